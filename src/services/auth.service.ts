import { tokenKind } from '../crypto/tokens.js';
import type { Actor } from './actor.js';
import type { UsersService } from './users.service.js';

/** Resolves a bearer token of another kind (deploy keys, deploy tokens) to an actor. */
export type BearerResolver = (token: string, ip: string | null) => Promise<Actor | undefined>;

/**
 * Who a bearer token belongs to, by its prefix: personal API tokens here, deploy keys and
 * deploy tokens through resolvers registered by the deployments module.
 */
export function createAuthService(deps: { users: Pick<UsersService, 'tokenUser' | 'sessionUser'> }) {
  const resolvers = new Map<string, BearerResolver>();
  return {
    register(kind: 'deploy-key' | 'deploy', resolver: BearerResolver): void {
      resolvers.set(kind, resolver);
    },
    async bearer(token: string, ip: string | null): Promise<Actor | undefined> {
      const kind = tokenKind(token);
      if (kind === 'api') {
        const u = await deps.users.tokenUser(token);
        return u
          ? {
              kind: 'user',
              userId: u.userId,
              email: u.email,
              isAdmin: u.isAdmin,
              via: 'token',
              tokenName: u.tokenName,
              ...(u.readOnly ? { readOnly: true } : {}),
              ip,
            }
          : undefined;
      }
      const r = kind ? resolvers.get(kind) : undefined;
      return r ? r(token, ip) : undefined;
    },
    async session(token: string, ip: string | null): Promise<{ actor: Actor; csrfToken: string } | undefined> {
      const s = await deps.users.sessionUser(token);
      if (!s) return undefined;
      return {
        actor: { kind: 'user', userId: s.userId, email: s.email, isAdmin: s.isAdmin, via: 'session', sessionIdHash: s.idHash, ip },
        csrfToken: s.csrfToken,
      };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
