// Native open/save dialogs, with filters per kind. Validation of the returned path happens in
// the services like for any other path the renderer sends.
export type OpenKind = 'model' | 'dataset-folder' | 'dataset-file' | 'bundle';
export type SaveKind = 'model' | 'bundle' | 'report';

export function openDialogOptions(kind: OpenKind) {
  switch (kind) {
    case 'model':
      return { title: 'Choose an ONNX model', properties: ['openFile'] as const, filters: [{ name: 'ONNX models', extensions: ['onnx'] }] };
    case 'dataset-folder':
      return { title: 'Choose a dataset folder', properties: ['openDirectory'] as const, filters: [] };
    case 'dataset-file':
      return { title: 'Choose a CSV dataset', properties: ['openFile'] as const, filters: [{ name: 'CSV', extensions: ['csv'] }] };
    case 'bundle':
      return { title: 'Choose an experiment bundle', properties: ['openFile'] as const, filters: [{ name: 'Distillery bundles', extensions: ['distillery'] }] };
  }
}

export function saveDialogOptions(kind: SaveKind, defaultName: string) {
  const safe = defaultName.replace(/[\\/:*?"<>|\0]/g, '_');
  switch (kind) {
    case 'model':
      return { title: 'Export model', defaultPath: safe, filters: [{ name: 'ONNX models', extensions: ['onnx'] }] };
    case 'bundle':
      return { title: 'Export experiments', defaultPath: safe, filters: [{ name: 'Distillery bundles', extensions: ['distillery'] }] };
    case 'report':
      return { title: 'Export report', defaultPath: safe, filters: [{ name: 'Markdown', extensions: ['md'] }, { name: 'HTML', extensions: ['html'] }] };
  }
}

export function isOpenKind(v: unknown): v is OpenKind {
  return v === 'model' || v === 'dataset-folder' || v === 'dataset-file' || v === 'bundle';
}

export function isSaveKind(v: unknown): v is SaveKind {
  return v === 'model' || v === 'bundle' || v === 'report';
}
