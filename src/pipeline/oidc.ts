/**
 * The CI side of OpenID Connect federation: get the job's ID token (GitHub Actions, or a token
 * another CI put in KEYLOFT_OIDC_TOKEN / KEYLOFT_OIDC_TOKEN_FILE) and exchange it for a deployment.
 * The ID token is read from the environment or a file and sent only in a request body: never an
 * argument, a log line or an error message.
 */
import { readFileSync } from 'node:fs';
import { refused, request } from '../client/http.js';
import { CommandError, EXIT_REFUSED, EXIT_USAGE } from '../domain/exit-codes.js';
import { checkStarted, type StartedDeployment, type StartRequest } from './run.js';

/** Same bound as the server's: a larger token is refused before it is sent. */
const ID_TOKEN_MAX_BYTES = 16 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

/** Where the ID token came from (for a log line; never the token). */
export type IdTokenSource = 'KEYLOFT_OIDC_TOKEN' | 'KEYLOFT_OIDC_TOKEN_FILE' | 'GitHub Actions';

function checked(token: string, source: IdTokenSource): { token: string; source: IdTokenSource } {
  const t = token.trim();
  if (t.length === 0) throw new CommandError(`the ID token from ${source} is empty`, EXIT_USAGE);
  if (Buffer.byteLength(t) > ID_TOKEN_MAX_BYTES) throw new CommandError(`the ID token from ${source} is larger than ${ID_TOKEN_MAX_BYTES} bytes`, EXIT_USAGE);
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(t))
    throw new CommandError(`the ID token from ${source} is not a JWT (three base64url parts)`, EXIT_USAGE);
  return { token: t, source };
}

/**
 * The CI job's ID token: KEYLOFT_OIDC_TOKEN, else the file KEYLOFT_OIDC_TOKEN_FILE, else GitHub
 * Actions' token service (ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN, which
 * needs `permissions: id-token: write`) for `audience`.
 */
export async function ciIdToken(audience: string, env: NodeJS.ProcessEnv = process.env): Promise<{ token: string; source: IdTokenSource }> {
  if (env.KEYLOFT_OIDC_TOKEN) return checked(env.KEYLOFT_OIDC_TOKEN, 'KEYLOFT_OIDC_TOKEN');
  if (env.KEYLOFT_OIDC_TOKEN_FILE) {
    let text: string;
    try {
      const raw = readFileSync(env.KEYLOFT_OIDC_TOKEN_FILE);
      if (raw.length > ID_TOKEN_MAX_BYTES + 2)
        throw new CommandError(`the ID token in KEYLOFT_OIDC_TOKEN_FILE is larger than ${ID_TOKEN_MAX_BYTES} bytes`, EXIT_USAGE);
      text = raw.toString('utf8');
    } catch (err) {
      if (err instanceof CommandError) throw err;
      throw new CommandError(
        `cannot read KEYLOFT_OIDC_TOKEN_FILE ${JSON.stringify(env.KEYLOFT_OIDC_TOKEN_FILE)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        EXIT_USAGE,
      );
    }
    return checked(text, 'KEYLOFT_OIDC_TOKEN_FILE');
  }
  const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!requestUrl || !requestToken) {
    throw new CommandError(
      'no CI ID token: on GitHub Actions give the job `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN); elsewhere set KEYLOFT_OIDC_TOKEN or KEYLOFT_OIDC_TOKEN_FILE',
      EXIT_USAGE,
    );
  }
  let u: URL;
  try {
    u = new URL(requestUrl);
  } catch {
    throw new CommandError('ACTIONS_ID_TOKEN_REQUEST_URL is not a URL', EXIT_USAGE);
  }
  u.searchParams.set('audience', audience);
  const reply = await request<{ value?: unknown }>({
    method: 'GET',
    base: u.origin,
    path: `${u.pathname}${u.search}`,
    headers: { authorization: `bearer ${requestToken}` },
    timeoutMs: FETCH_TIMEOUT_MS,
    service: 'the GitHub Actions ID token service',
  });
  if (reply.status !== 200)
    throw new CommandError(
      `the GitHub Actions ID token service answered HTTP ${reply.status} (does the job have \`permissions: id-token: write\`?)`,
      EXIT_REFUSED,
    );
  const value = reply.body?.value;
  if (typeof value !== 'string') throw new CommandError('the GitHub Actions ID token service sent no token', EXIT_REFUSED);
  return checked(value, 'GitHub Actions');
}

/**
 * Exchanges an ID token for a deployment (`POST /api/v1/oidc/deployments`, no bearer). An `api`-role
 * server answers 421 `wrong_role` with `details.releaseUrl`: that URL is followed once (the request
 * carries no bearer token; the ID token is in its body).
 */
export async function startDeploymentWithIdToken(url: string, project: string, body: StartRequest, idToken: string): Promise<StartedDeployment> {
  const reply = await request<StartedDeployment>({
    method: 'POST',
    base: url,
    path: '/api/v1/oidc/deployments',
    body: { project, ...body, idToken },
    timeoutMs: FETCH_TIMEOUT_MS,
    follow421: 'anywhere-without-token',
  });
  if (reply.status !== 201) throw refused('exchanging the CI ID token was', reply);
  return checkStarted(reply.body);
}
