import { type Running, startServer as startInProcess } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config.js';
import { Api, bootstrap } from '../helpers/client.js';
import { storeEnv, type TestServer, type TestStore } from '../helpers/server.js';

/** A keyloft server in this process (so tests can reach its services and database), signed up with an admin. */
export async function startPeopleServer(store: TestStore, env: Record<string, string | undefined> = {}): Promise<{ running: Running; url: string; admin: Api; server: TestServer }> {
  const lines: string[] = [];
  const config = loadConfig(storeEnv(store, { KEYLOFT_LOG_LEVEL: 'silent', ...env }));
  const running = await startInProcess(config, { print: (l) => lines.push(l) });
  try {
    const setup = /\b(klsetup_[A-Za-z0-9_-]+)/.exec(lines.join('\n'))?.[1];
    const server = { url: running.url, setupToken: setup, store } as unknown as TestServer;
    const admin = await bootstrap(server);
    return { running, url: running.url, admin, server };
  } catch (err) {
    await running.close();
    throw err;
  }
}

/** The token at the end of an invitation link. */
export function tokenOf(url: string): string {
  const m = /\/invitations\/(klinv_[A-Za-z0-9_-]{43})$/.exec(url);
  if (!m) throw new Error(`not an invitation link: ${url}`);
  return m[1]!;
}

/** Accepts an invitation through the API, signed out (or with the given headers). */
export async function acceptAnon(url: string, token: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/api/v1/invitations/${token}/accept`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}
