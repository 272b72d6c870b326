// Commands of the desktop app's native menu, sent by the Electron shell to the page as the
// `menu:command` event (the services never send it; the browser has no native menu). The page
// validates each one before acting on it.
import * as v from 'valibot';

/** Screens the View menu can open (the same as the sidebar). */
export const MENU_SCREENS = ['home', 'teacher', 'history', 'compare', 'inspect', 'settings'] as const;
export type MenuScreen = (typeof MENU_SCREENS)[number];

export const menuCommandSchema = v.variant('command', [
  v.strictObject({ command: v.picklist(['open-model', 'open-dataset-folder', 'open-dataset-file', 'import-experiments'] as const) }),
  v.strictObject({ command: v.literal('navigate'), screen: v.picklist(MENU_SCREENS) }),
]);

export type MenuCommand = v.InferOutput<typeof menuCommandSchema>;

/** The command, or null when the payload is not one. */
export function parseMenuCommand(payload: unknown): MenuCommand | null {
  const r = v.safeParse(menuCommandSchema, payload);
  return r.success ? r.output : null;
}
