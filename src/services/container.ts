import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Keyring } from '../crypto/keyring.js';
import type { DB } from '../store/schema.js';
import { createAuditService } from './audit.service.js';
import { nonDecreasingClock } from './clock.js';
import { createAuthService } from './auth.service.js';
import { loadMasterKeys, verifyMasterKeys } from './bootstrap.js';
import { createDeployKeysService } from './deploy-keys.service.js';
import { createDeploymentsService } from './deployments.service.js';
import { createInvitationsService } from './invitations.service.js';
import { createMailService } from './mail.service.js';
import { createHealthService } from './health.service.js';
import { createPendingImportsService } from './pending-imports.service.js';
import { createPublicKeys } from './keys.service.js';
import { createOidcExchangeService } from './oidc-exchange.service.js';
import { createIssuerKeys } from './oidc-keys.js';
import { createProjectsService } from './projects.service.js';
import { createReleaseService } from './release.service.js';
import { createResealService } from './reseal.service.js';
import { createSecretsService } from './secrets.service.js';
import { createSsoService } from './sso.service.js';
import { createStatusService } from './status.service.js';
import { createTrustPoliciesService } from './trust-policies.service.js';
import { createUserAdminService } from './user-admin.service.js';
import { createUsersService } from './users.service.js';
import { type HashOptions, passwordHasher } from './password-hash.js';

export interface ServicesDeps {
  db: Kysely<DB>;
  config: Config;
  /** The master keyring: present only on roles that hold the master key (all, release). */
  keyring: Keyring | undefined;
  clock?: () => number;
  /** Password hashing at a lower cost: only the in-process test helpers pass one (no setting does). */
  passwordHashing?: HashOptions;
}

/**
 * The one composition root: every service of the process's role, from { db, config, keyring, clock }.
 * Without a keyring (the api role) nothing that can open a value is built: `release` and `reseal`
 * are then undefined, and the master key is never read.
 */
export function createServices({ db, config, keyring, clock = nonDecreasingClock(), passwordHashing }: ServicesDeps) {
  const base = { db, clock };
  const passwords = passwordHasher(passwordHashing);
  const keys = createPublicKeys(base);
  const status = createStatusService();
  const users = createUsersService({
    ...base,
    passwords,
    sessionTtlMs: config.sessionTtlHours * 3_600_000,
    sessionMaxMs: config.sessionMaxHours * 3_600_000,
    ssoOnly: config.ssoOnly ?? false,
  });
  const deployments = createDeploymentsService({ ...base, tokenTtlMs: config.deployTokenTtlMinutes * 60_000, deployKeyMaxRunning: config.deployKeyMaxRunning });
  const deployKeys = createDeployKeysService(base);
  const auth = createAuthService({ users });
  auth.register('deploy', deployments.tokenActor);
  auth.register('deploy-key', deployKeys.keyActor);
  const allowHttpLoopback = config.oidcAllowHttpLoopback;
  const oidcKeys = createIssuerKeys({ clock, allowHttpLoopback });
  const secrets = createSecretsService({ ...base, keys, status });
  // After a `keyloft keys rotate`, the release side re-reads the configured keys when it meets a key id it does not hold.
  const reloadKeyring = async () => verifyMasterKeys(db, (await loadMasterKeys(config, db)).keys, clock());
  const release = keyring ? createReleaseService({ ...base, keyring, reloadKeyring, cacheBytes: config.releaseCacheBytes }) : undefined;
  // Restore and copy open values to re-seal them: the same rule, only where the keyring is.
  const reseal = keyring ? createResealService({ ...base, keyring, secrets, reloadKeyring }) : undefined;
  return {
    keys,
    status,
    users,
    userAdmin: createUserAdminService({ ...base, passwords }),
    auth,
    deployments,
    deployKeys,
    trustPolicies: createTrustPoliciesService({ ...base, allowHttpLoopback }),
    oidc: createOidcExchangeService({ ...base, keys: oidcKeys, deployments, allowHttpLoopback }),
    projects: createProjectsService({ ...base, keys }),
    secrets,
    pendingImports: createPendingImportsService({ ...base, secrets }),
    audit: createAuditService(base),
    invitations: createInvitationsService({ ...base, passwords, users, ssoOnly: config.ssoOnly }),
    /** Present when KEYLOFT_SSO_ISSUER is set. */
    sso: config.sso ? createSsoService({ ...base, passwords, sso: config.sso, allowHttpLoopback: config.oidcAllowHttpLoopback, users }) : undefined,
    mail: createMailService({ smtpUrl: config.smtpUrl, from: config.mailFrom }),
    // Absent (not even a key) on the api role.
    ...(release ? { release } : {}),
    ...(reseal ? { reseal } : {}),
    health: createHealthService({ db, keysLoaded: () => config.role === 'api' || keyring !== undefined }),
    /** Stops the release cache's sweep and zeroes its opened values (at shutdown, after the server closed). */
    close(): void {
      release?.close();
    },
  };
}

export type Services = ReturnType<typeof createServices>;
