// What the desktop app's native menu commands do in the page: pick a file with the native dialog,
// then open the screen that uses it. Only the Electron shell sends them; the browser has no menu.
import type { Api, ImportReport } from '../../../app/contract/api.js';
import { parseMenuCommand, type MenuScreen } from '../../../app/contract/menu.js';
import { explainError } from './errors.js';
import { baseName } from './format.js';
import type { Route } from './routes.js';
import type { NativeHelpers } from './transport/types.js';

export interface MenuTarget {
  native: NativeHelpers | null;
  api: Pick<Api, 'importBundle'>;
  go(route: Route): void;
  toast(kind: 'info' | 'good' | 'bad', text: string, href?: string, linkText?: string): void;
  /** Experiments were added: lists re-fetch. */
  changed(): void;
}

const SCREEN_ROUTES: Record<MenuScreen, Route> = {
  home: { name: 'home' },
  teacher: { name: 'teacher' },
  history: { name: 'history' },
  compare: { name: 'compare', ids: [], baseline: null },
  inspect: { name: 'inspect', path: null },
  settings: { name: 'settings' },
};

/** One sentence for an import's outcome (the History dialog says the same). */
export function importSummary(r: ImportReport): string {
  const n = r.imported.length;
  const skipped = r.skipped.length ? `, skipped ${r.skipped.length} already here` : '';
  return `Imported ${n} experiment${n === 1 ? '' : 's'}${skipped}.${r.warnings.length ? ' ' + r.warnings.join(' ') : ''}`;
}

/**
 * Runs one `menu:command` payload. Open Model shows the model in the inspector; Open Dataset
 * starts the compression wizard on it (its data step checks the dataset); Import Experiments
 * imports the bundle and shows History. A cancelled dialog does nothing; a payload that is not a
 * command is ignored.
 */
export async function runMenuCommand(payload: unknown, t: MenuTarget): Promise<void> {
  const c = parseMenuCommand(payload);
  if (!c) return;
  if (c.command === 'navigate') return t.go(SCREEN_ROUTES[c.screen]);
  const kind = c.command === 'open-model' ? 'model' : c.command === 'open-dataset-folder' ? 'dataset-folder' : c.command === 'open-dataset-file' ? 'dataset-file' : 'bundle';
  let path: string | null;
  try {
    // Without a native dialog, the screen's own path field takes the path instead.
    path = t.native ? await t.native.pickPath(kind) : null;
  } catch (err) {
    return t.toast('bad', `The file dialog did not open: ${explainError(err).message}`);
  }
  if (!path && t.native) return;
  if (kind === 'model') return t.go({ name: 'inspect', path });
  if (kind === 'dataset-folder' || kind === 'dataset-file') return t.go(path ? { name: 'compress', data: path } : { name: 'compress' });
  if (!path) return t.go({ name: 'history' });
  try {
    const r = await t.api.importBundle({ path });
    t.changed();
    t.toast('good', importSummary(r));
    t.go({ name: 'history' });
  } catch (err) {
    t.toast('bad', `Could not import ${baseName(path)}: ${explainError(err).message}`);
  }
}
