// Hash routes (work from file:// in Electron and from the server, survive reloads). Pure, tested.

export type Route =
  | { name: 'home' }
  | { name: 'teacher' }
  | { name: 'compress'; data?: string }
  | { name: 'run'; id: string }
  | { name: 'results'; id: string }
  | { name: 'compare'; ids: string[]; baseline: string | null }
  | { name: 'history' }
  | { name: 'inspect'; path: string | null }
  | { name: 'settings' };

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#/, '') || '/';
  const [pathPart, queryPart = ''] = h.split('?');
  const q = new URLSearchParams(queryPart);
  const parts = (pathPart ?? '/').split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case undefined:
      return { name: 'home' };
    case 'teacher':
      return { name: 'teacher' };
    case 'compress': {
      const data = q.get('data');
      return data ? { name: 'compress', data } : { name: 'compress' };
    }
    case 'run':
      return parts[1] ? { name: 'run', id: parts[1] } : { name: 'home' };
    case 'results':
      return parts[1] ? { name: 'results', id: parts[1] } : { name: 'history' };
    case 'compare':
      return { name: 'compare', ids: (q.get('ids') ?? '').split(',').filter(Boolean), baseline: q.get('baseline') };
    case 'history':
      return { name: 'history' };
    case 'inspect':
      return { name: 'inspect', path: q.get('path') };
    case 'settings':
      return { name: 'settings' };
    default:
      return { name: 'home' };
  }
}

export function hrefOf(r: Route): string {
  switch (r.name) {
    case 'home':
      return '#/';
    case 'run':
    case 'results':
      return `#/${r.name}/${encodeURIComponent(r.id)}`;
    case 'compare': {
      const q = new URLSearchParams();
      if (r.ids.length) q.set('ids', r.ids.join(','));
      if (r.baseline) q.set('baseline', r.baseline);
      const s = q.toString();
      return `#/compare${s ? `?${s}` : ''}`;
    }
    case 'inspect':
      return r.path ? `#/inspect?${new URLSearchParams({ path: r.path })}` : '#/inspect';
    case 'compress':
      return r.data ? `#/compress?${new URLSearchParams({ data: r.data })}` : '#/compress';
    default:
      return `#/${r.name}`;
  }
}

