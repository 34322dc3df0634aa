import type { Kysely } from 'kysely';
import { type Running, startServer as startInProcess } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/store/db.js';
import type { DB } from '../../src/store/schema.js';
import { type Api, bootstrap } from '../helpers/client.js';
import { storeEnv, type TestServer, type TestStore } from '../helpers/server.js';

/** A connection of the test's own to a store's database (to look at rows, or age an invitation); closed by `close()`. */
export function openStoreDb(store: TestStore): { db: Kysely<DB>; close: () => Promise<void> } {
  const config = loadConfig(storeEnv(store));
  const d = openDatabase(config.databaseUrl);
  return { db: d.db, close: () => d.close() };
}

/** A keyloft server in this process, signed up with an admin, and a database connection of the test's own (closed with the server). */
export async function startPeopleServer(
  store: TestStore,
  env: Record<string, string | undefined> = {},
): Promise<{ running: Running; url: string; admin: Api; server: TestServer; db: Kysely<DB> }> {
  const lines: string[] = [];
  const config = loadConfig(storeEnv(store, { KEYLOFT_LOG_LEVEL: 'silent', ...env }));
  const started = await startInProcess(config, { print: (l) => lines.push(l) });
  const own = openStoreDb(store);
  const running: Running = {
    ...started,
    close: async () => {
      await own.close();
      await started.close();
    },
  };
  try {
    const setup = /\b(klsetup_[A-Za-z0-9_-]+)/.exec(lines.join('\n'))?.[1];
    const server = { url: running.url, setupToken: setup, store } as unknown as TestServer;
    const admin = await bootstrap(server);
    return { running, url: running.url, admin, server, db: own.db };
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
