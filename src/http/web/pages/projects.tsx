/** Project pages, one module per page (re-exported here for the routes and the settings pages). */
export * from './projects/links.js';
export * from './projects/list.js';
export * from './projects/deployments-table.js';
export * from './projects/overview.js';
export * from './projects/deployments.js';
export * from './projects/deployment.js';
