import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

/**
 * A small OpenID provider on 127.0.0.1 for tests: serves the discovery document and a JWKS, and
 * mints GitHub-Actions-shaped ID tokens signed with its current key (RS256 or ES256). It can rotate
 * its key, go down (answer 503), stall, or serve a pathological JWKS; it counts the fetches.
 */
export interface TestIssuer {
  /** The issuer URL (`http://127.0.0.1:PORT`), also the tokens' `iss`. */
  url: string;
  /** JWKS and discovery requests served so far. */
  fetches: { discovery: number; jwks: number };
  /** The current signing key's id. */
  kid(): string;
  /** Mints a token: GitHub-shaped claims for `repo` (OWNER/REPO) and `ref`, overridable. */
  mint(opts?: MintOptions): Promise<string>;
  /** A new signing key (new kid); the JWKS then publishes both, unless `dropOld`. */
  rotate(opts?: { dropOld?: boolean; alg?: 'RS256' | 'ES256' }): Promise<void>;
  /** What the JWKS endpoint does: serve the keys, answer 503, or serve `count` junk keys. */
  setMode(mode: 'ok' | 'down' | { junkKeys: number }): void;
  /** The public JWK of the current key (e.g. to forge an HS256 token with it as the secret). */
  publicJwk(): JWK;
  close(): Promise<void>;
}

export interface MintOptions {
  repo?: string;
  ref?: string;
  sub?: string;
  aud?: string | string[];
  /** Seconds since the epoch; defaults derive from `now`. */
  iat?: number;
  nbf?: number;
  exp?: number;
  /** Milliseconds since the epoch the times derive from (a test's fake clock). */
  now?: number;
  /** Extra or replacement claims (undefined removes one). */
  claims?: Record<string, unknown>;
  /** Sign with an unpublished key of the same kid (a forged signature). */
  foreignKey?: boolean;
  /** Put this kid in the header instead of the key's own. */
  kid?: string;
  iss?: string;
  /** Sign with another RSA algorithm than the key's (the JWKS must then publish keys without `alg`). */
  alg?: 'RS384' | 'PS256';
}

interface Key {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  jwk: JWK;
}

async function newKey(alg: 'RS256' | 'ES256', n: number, omitAlg = false): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `test-key-${n}-${Math.random().toString(36).slice(2, 8)}`;
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, ...(omitAlg ? {} : { alg }), use: 'sig' } };
}

export async function startTestIssuer(opts: { alg?: 'RS256' | 'ES256'; audience?: string; omitAlg?: boolean } = {}): Promise<TestIssuer> {
  let counter = 0;
  let keys: Key[] = [await newKey(opts.alg ?? 'RS256', counter++, opts.omitAlg)];
  let mode: 'ok' | 'down' | { junkKeys: number } = 'ok';
  const fetches = { discovery: 0, jwks: 0 };
  let url = '';
  let junk: string | undefined;

  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.url === '/.well-known/openid-configuration') {
      fetches.discovery++;
      if (mode === 'down') return send(503, { error: 'down' });
      return send(200, { issuer: url, jwks_uri: `${url}/.well-known/jwks`, id_token_signing_alg_values_supported: ['RS256', 'ES256'] });
    }
    if (req.url === '/.well-known/jwks') {
      fetches.jwks++;
      if (mode === 'down') return send(503, { error: 'down' });
      if (typeof mode === 'object') {
        // Many small EC keys: the count is the point, not the bytes.
        junk ??= JSON.stringify({ keys: Array.from({ length: mode.junkKeys }, (_, i) => ({ ...keys[0]!.jwk, kid: `junk-${i}` })) });
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(junk);
      }
      return send(200, { keys: keys.map((k) => k.jwk) });
    }
    send(404, { error: 'not found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    get url() {
      return url;
    },
    fetches,
    kid: () => keys[keys.length - 1]!.kid,
    publicJwk: () => keys[keys.length - 1]!.jwk,
    async mint(o: MintOptions = {}) {
      const key = keys[keys.length - 1]!;
      let signer = o.foreignKey ? (await newKey(key.alg, 999)).privateKey : key.privateKey;
      if (o.alg) signer = (await importJWK({ ...(await exportJWK(signer)), alg: o.alg }, o.alg)) as CryptoKey;
      const now = Math.floor((o.now ?? Date.now()) / 1000);
      const repo = o.repo ?? 'acme/shop';
      const ref = o.ref ?? 'refs/heads/main';
      const pr = /^refs\/pull\/\d+\/merge$/.test(ref);
      const claims: Record<string, unknown> = {
        jti: Math.random().toString(36).slice(2),
        ref,
        sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
        repository: repo,
        repository_owner: repo.split('/')[0],
        run_id: '1234567890',
        run_attempt: '1',
        actor: 'octocat',
        workflow: 'deploy',
        event_name: pr ? 'pull_request' : 'push',
        ref_type: 'branch',
        job_workflow_ref: `${repo}/.github/workflows/deploy.yml@${ref}`,
        ...(o.claims ?? {}),
      };
      for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: o.alg ?? key.alg, kid: o.kid ?? key.kid, typ: 'JWT' })
        .setIssuer(o.iss ?? url)
        .setSubject(o.sub ?? (pr ? `repo:${repo}:pull_request` : `repo:${repo}:ref:${ref}`))
        .setAudience(o.aud ?? opts.audience ?? 'keyloft')
        .setIssuedAt(o.iat ?? now)
        .setNotBefore(o.nbf ?? now - 5)
        .setExpirationTime(o.exp ?? now + 300);
      return jwt.sign(signer);
    },
    async rotate(r: { dropOld?: boolean; alg?: 'RS256' | 'ES256' } = {}) {
      const k = await newKey(r.alg ?? keys[keys.length - 1]!.alg, counter++, opts.omitAlg);
      keys = r.dropOld ? [k] : [...keys, k];
    },
    setMode(m) {
      mode = m;
      junk = undefined;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
