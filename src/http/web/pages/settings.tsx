/** Project Settings pages, one module per section (re-exported here for the routes). */
export * from './settings/shell.js';
export * from './settings/general.js';
export * from './settings/secrets.js';
export * from './settings/history.js';
export * from './settings/members.js';
export * from './settings/audit.js';
export * from './settings/copy.js';
export * from './settings/delete.js';
