// Electron security rules that can be checked without Electron: which senders are trusted,
// which URLs a window may show, which links may open in the user's browser.

/** The renderer is loaded from the app's own files only. */
export function isAppUrl(url: string, appIndexUrl: string): boolean {
  try {
    const u = new URL(url);
    const app = new URL(appIndexUrl);
    return u.protocol === app.protocol && u.host === app.host && u.pathname === app.pathname;
  } catch {
    return false;
  }
}

/** IPC from a sub-frame or from a page that is not ours is refused (checklist item 17). */
export function isTrustedSender(frame: { url: string; parent: unknown } | null | undefined, appIndexUrl: string): boolean {
  return !!frame && frame.parent === null && isAppUrl(frame.url, appIndexUrl);
}

/** Only plain https links to a short allow-list open externally (checklist item 15). */
const EXTERNAL_HOSTS = new Set(['onnx.ai', 'onnxruntime.ai', 'github.com', 'www.electronjs.org']);

export function isAllowedExternal(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && EXTERNAL_HOSTS.has(u.hostname) && !u.username && !u.password;
  } catch {
    return false;
  }
}

/** Sent as a header on every response; the same rules as the page's own meta tag (renderer/index.html). */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "frame-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** BrowserWindow webPreferences: isolated, sandboxed, no Node (checklist items 2-4, 6, 9). */
export function secureWebPreferences(preloadPath: string) {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    spellcheck: false,
  } as const;
}
