// OIDC exchange workload for the bench harness (`--only OIDC`): exchange latency with a warm JWKS
// cache, measured over HTTP against a test issuer on 127.0.0.1; floor: the same token checks
// in-process (header, signature with cached keys, claims), without the policy match or the start.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createIssuerKeys } from '../src/services/oidc-keys.js';
import { peekToken, verifyToken } from '../src/services/oidc-verify.js';
import { startTestIssuer } from '../test/helpers/oidc-issuer.js';
import type { Client } from './http.js';
import { type Run, timeSeq } from './stats.js';

export interface OidcFigures {
  runs: Run[];
  floors: Run[];
  /** For comparison: starting the same deployment with a deploy key. */
  keyRuns: Run[];
  /** Fetches of the issuer's JWKS during the timed runs (0: the cache stayed warm). */
  jwksFetchesWhileTimed: number;
}

/** `n` exchanges per run (each deployment completed afterwards, untimed), `runs` runs. */
export async function oidcExchange(api: Client, n: number, runs: number, log: (m: string) => void): Promise<OidcFigures> {
  const issuer = await startTestIssuer({ alg: 'ES256' });
  try {
    const slug = `oidc-${randomBytes(3).toString('hex')}`;
    const secrets = Array.from({ length: 10 }, (_, i) => ({ name: `KEY_${i}`, scope: 'production', value: randomBytes(32).toString('hex') }));
    await api.json('POST', '/api/v1/projects', { slug, name: slug, secrets });
    await api.json('POST', `/api/v1/projects/${slug}/trust-policies`, {
      name: 'main',
      issuer: issuer.url,
      audience: 'keyloft',
      subject: 'repo:acme/shop:ref:refs/heads/main',
      environment: 'production',
    });
    const exchange = async (idToken: string) => {
      const r = await api.call('POST', '/api/v1/oidc/deployments', { project: slug, environment: 'production', idToken }, '');
      if (r.status !== 201) throw new Error(`exchange answered ${r.status}: ${r.text.slice(0, 200)}`);
      return JSON.parse(r.text) as { id: string; token: string };
    };
    // Warm the server's JWKS cache (one discovery + JWKS fetch).
    const warm = await exchange(await issuer.mint());
    await api.json('POST', `/api/v1/deployments/${warm.id}/complete`, { status: 'succeeded' }, [200], warm.token);
    const fetchedBefore = issuer.fetches.jwks;
    const keys = createIssuerKeys({ clock: Date.now, allowHttpLoopback: true });
    const out: OidcFigures = { runs: [], floors: [], keyRuns: [], jwksFetchesWhileTimed: 0 };
    const key = await api.json<{ token: string }>('POST', `/api/v1/projects/${slug}/deploy-keys`, { name: 'bench' });
    for (let r = 0; r < runs; r++) {
      const tokens = await Promise.all(Array.from({ length: n }, () => issuer.mint()));
      const started: Array<{ id: string; token: string }> = [];
      out.runs.push(await timeSeq(n, async (i) => started.push(await exchange(tokens[i]!))));
      for (const d of started) await api.json('POST', `/api/v1/deployments/${d.id}/complete`, { status: 'succeeded' }, [200], d.token);
      const peeked = peekToken(tokens[0]!, true);
      await verifyToken({ keys, clock: Date.now }, tokens[0]!, peeked.issuer, peeked.kid, ['keyloft']); // warm the floor's cache
      out.floors.push(
        await timeSeq(n, async (i) => {
          const p = peekToken(tokens[i]!, true);
          await verifyToken({ keys, clock: Date.now }, tokens[i]!, p.issuer, p.kid, ['keyloft']);
        }),
      );
      // Each deployment completed at once, untimed: a deploy key may have only a few running.
      const keySamples: number[] = [];
      let keyWall = 0;
      for (let i = 0; i < n; i++) {
        const a = performance.now();
        const d = await api.json<{ id: string; token: string }>(
          'POST',
          `/api/v1/projects/${slug}/deployments`,
          { environment: 'production' },
          [201],
          key.token,
        );
        keySamples.push(performance.now() - a);
        keyWall += keySamples[i]!;
        await api.json('POST', `/api/v1/deployments/${d.id}/complete`, { status: 'succeeded' }, [200], d.token);
      }
      out.keyRuns.push({ samples: keySamples, wallMs: keyWall });
      const sorted = [...out.runs.at(-1)!.samples].sort((a, b) => a - b);
      log(`OIDC run ${r + 1}: exchange median ${sorted[Math.ceil(n / 2) - 1]!.toFixed(3)} ms over ${n}`);
    }
    out.jwksFetchesWhileTimed = issuer.fetches.jwks - fetchedBefore - 1; // minus the floor's own warm-up fetch
    return out;
  } finally {
    await issuer.close();
  }
}
