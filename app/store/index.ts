// Public surface of the experiment history.
export { openDatabase, type OpenOptions, type Store } from './db.js';
export { defaultDataDir, historyPath, artifactsDirFor } from './paths.js';
export { StoreError, SchemaTooNewError, type StoreErrorCode } from './errors.js';
export { migrate, latestVersion, HISTORY_APP_ID, BUNDLE_APP_ID, type MigrateOptions, type MigrateResult } from './migrate.js';
export { MIGRATIONS, type Migration } from './migrations/index.js';
export { exportBundle, type ExportReport } from './bundle/export.js';
export { importBundle, type ImportReport } from './bundle/import.js';
export { newId } from './ids.js';
export type { Clock } from './repos/clock.js';
export * from './types.js';
