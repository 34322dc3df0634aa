import type { FastifyInstance } from 'fastify';
import type { Config, ServerRole } from '../config.js';
import type { Keyring } from '../crypto/keyring.js';
import { deploymentRoutes, releaseRoutes } from '../http/api/deployments.routes.js';
import type { Services } from '../services/container.js';
import { loadMasterKeys, verifyMasterKeys } from '../services/bootstrap.js';
import { createReleaseService } from '../services/release.service.js';
import { createResealService } from '../services/reseal.service.js';
import { resealRoutes } from '../http/api/reseal.routes.js';
import { oidcRoutes, trustPolicyRoutes } from '../http/api/trust-policies.routes.js';
import { webPlugin } from '../http/web/plugin.js';

export interface ModuleContext {
  config: Config;
  services: Services;
  /** Present only on roles that hold the master key (all, release). */
  keyring: Keyring | undefined;
}

export interface Modules {
  api: Array<{ roles: readonly ServerRole[]; plugin: (app: FastifyInstance) => Promise<void> }>;
  web: ((app: FastifyInstance) => Promise<void>) | undefined;
}

/** Feature modules (deployments and release, the web dashboard), wired per role. */
export async function modules(ctx: ModuleContext): Promise<Modules> {
  const { config, services, keyring } = ctx;
  const routeOpts = { services, publicUrl: config.publicUrl, secureCookies: config.publicUrl?.startsWith('https:') ?? false };
  // Only roles with the master key construct the release service: the api role cannot open values.
  // After a `keyloft keys rotate`, it re-reads the configured keys when it meets a key id it does not hold.
  const reloadKeyring = async () => verifyMasterKeys(services.db, (await loadMasterKeys(config, services.db)).keys, services.clock());
  const release = keyring ? createReleaseService({ db: services.db, clock: services.clock, keyring, reloadKeyring }) : undefined;
  // Restore and copy open values to re-seal them: the same rule, only where the keyring is.
  const reseal = keyring ? createResealService({ db: services.db, clock: services.clock, keyring, secrets: services.secrets, reloadKeyring }) : undefined;
  return {
    api: [
      { roles: ['all', 'api'], plugin: async (app) => app.register(deploymentRoutes, routeOpts) },
      { roles: ['all', 'api', 'release'], plugin: async (app) => app.register(releaseRoutes, { ...routeOpts, release, releaseUrl: config.releaseUrl }) },
      { roles: ['all', 'api', 'release'], plugin: async (app) => app.register(resealRoutes, { ...routeOpts, reseal, releaseUrl: config.releaseUrl }) },
      { roles: ['all', 'api'], plugin: async (app) => app.register(trustPolicyRoutes, routeOpts) },
      // The exchange mints a deploy token: like the release route, it runs where the keys are (the api role answers 421).
      { roles: ['all', 'api', 'release'], plugin: async (app) => app.register(oidcRoutes, { ...routeOpts, enabled: config.role !== 'api', releaseUrl: config.releaseUrl, ratePerMinute: config.oidcRateLimitPerMinute }) },
    ],
    web: webPlugin({ config, services, reseal }),
  };
}
