// The contract: types, schemas and channel names. Safe to import from the renderer.
export * from './api.js';
export * from './events.js';
export * from './channels.js';
export * from './errors.js';
export * from './schemas.js';
export * from './summaries.js';
export * from './menu.js';
export type * from './jobs.js';
