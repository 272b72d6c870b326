// Remembers the window's size and position between runs, and keeps it on a visible screen.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../app/engine/onnx/io.js';

export interface Bounds {
  x?: number;
  y?: number;
  width: number;
  height: number;
}

export interface WindowState {
  bounds: Bounds;
  maximized: boolean;
}

export const DEFAULT_STATE: WindowState = { bounds: { width: 1280, height: 820 }, maximized: false };

export function readWindowState(file: string): WindowState {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<WindowState>;
    const b = raw.bounds;
    if (!b || !(b.width! >= 400) || !(b.height! >= 300) || b.width! > 20000 || b.height! > 20000) return DEFAULT_STATE;
    const bounds: Bounds = { width: Math.round(b.width!), height: Math.round(b.height!) };
    if (Number.isFinite(b.x) && Number.isFinite(b.y)) Object.assign(bounds, { x: Math.round(b.x!), y: Math.round(b.y!) });
    return { bounds, maximized: raw.maximized === true };
  } catch {
    return DEFAULT_STATE;
  }
}

export async function saveWindowState(file: string, state: WindowState): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(state));
}

/** Drops the position when the saved window would not be at least partly on some display. */
export function fitToDisplays(state: WindowState, workAreas: { x: number; y: number; width: number; height: number }[]): WindowState {
  const { x, y, width, height } = state.bounds;
  if (x === undefined || y === undefined) return state;
  const visible = workAreas.some((a) => x + 100 <= a.x + a.width && x + width - 100 >= a.x && y >= a.y - 10 && y + 50 <= a.y + a.height);
  if (visible) return state;
  return { ...state, bounds: { width: Math.min(width, workAreas[0]?.width ?? width), height: Math.min(height, workAreas[0]?.height ?? height) } };
}
