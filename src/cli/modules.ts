import type { FastifyInstance } from 'fastify';
import type { Config, ServerRole } from '../config.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Services } from '../services/container.js';

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

/** Optional feature modules (deployments and release, the web dashboard), wired per role. */
export async function modules(_ctx: ModuleContext): Promise<Modules> {
  return { api: [], web: undefined };
}
