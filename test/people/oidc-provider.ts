import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** The provider's test accounts: the login typed on its (development) sign-in page → the claims it vouches for. */
export const ACCOUNTS: Record<string, { email: string; email_verified: boolean }> = {
  alice: { email: 'alice@example.com', email_verified: true },
  carol: { email: 'carol@example.com', email_verified: true },
  unverified: { email: 'unverified@example.com', email_verified: false },
  stranger: { email: 'stranger@elsewhere.test', email_verified: true },
};

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (the `oidc-provider` package) on 127.0.0.1 with one confidential client
 * whose redirect URI is `redirectUri`, and the accounts above. Its development interactions give a
 * login page (any password) and a consent page.
 */
export async function startIdp(redirectUri: string): Promise<TestIdp> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'keyloft';
  const clientSecret = `idp-secret-${Math.random().toString(36).slice(2)}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    pkce: { required: () => true },
    cookies: { keys: [`cookie-key-${Math.random().toString(36).slice(2)}`] },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx: unknown, id: string) {
      const a = ACCOUNTS[id];
      if (!a) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...a }) };
    },
  });
  // Quiet: the provider warns about development defaults (keys, interactions) on every start.
  provider.on('server_error', () => {});
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
