import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { DB } from '../store/schema.js';
import { createAuditService } from './audit.service.js';
import { createAuthService } from './auth.service.js';
import { createDeployKeysService } from './deploy-keys.service.js';
import { createDeploymentsService } from './deployments.service.js';
import { createPublicKeys } from './keys.service.js';
import { createOidcExchangeService } from './oidc-exchange.service.js';
import { createIssuerKeys } from './oidc-keys.js';
import { createProjectsService } from './projects.service.js';
import { createSecretsService } from './secrets.service.js';
import { createStatusService } from './status.service.js';
import { createTrustPoliciesService } from './trust-policies.service.js';
import { createUsersService } from './users.service.js';

/** The services every role has. None of them holds a private key. */
export function createServices(
  db: Kysely<DB>,
  config: Pick<Config, 'sessionTtlHours' | 'deployTokenTtlMinutes' | 'oidcAllowHttpLoopback'> & Partial<Pick<Config, 'deployKeyMaxRunning'>>,
  clock: () => number = Date.now,
) {
  const base = { db, clock };
  const keys = createPublicKeys(base);
  const status = createStatusService();
  const users = createUsersService({ ...base, sessionTtlMs: config.sessionTtlHours * 3_600_000 });
  const deployments = createDeploymentsService({ ...base, tokenTtlMs: config.deployTokenTtlMinutes * 60_000, deployKeyMaxRunning: config.deployKeyMaxRunning });
  const deployKeys = createDeployKeysService(base);
  const auth = createAuthService({ users });
  auth.register('deploy', deployments.tokenActor);
  auth.register('deploy-key', deployKeys.keyActor);
  const allowHttpLoopback = config.oidcAllowHttpLoopback;
  const oidcKeys = createIssuerKeys({ clock, allowHttpLoopback });
  return {
    db,
    clock,
    keys,
    status,
    users,
    auth,
    deployments,
    deployKeys,
    trustPolicies: createTrustPoliciesService({ ...base, allowHttpLoopback }),
    oidc: createOidcExchangeService({ ...base, keys: oidcKeys, deployments, allowHttpLoopback }),
    projects: createProjectsService({ ...base, keys }),
    secrets: createSecretsService({ ...base, keys, status }),
    audit: createAuditService(base),
  };
}

export type Services = ReturnType<typeof createServices>;
