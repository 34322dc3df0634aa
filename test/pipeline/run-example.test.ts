/**
 * examples/hello-app, the way its README walks through it: the real CLI against a real server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN_EMAIL, type Api, bootstrap } from '../helpers/client.js';
import { createStore, REPO_ROOT, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { cliEnv, encodedForms, keyloft } from './pipeline-fixture.js';

describe('examples/hello-app, as its README goes', () => {
  let store: TestStore;
  let server: TestServer;
  let api: Api;
  let app: string;
  const values = {
    DATABASE_URL: `postgres://hello:${randomBytes(8).toString('hex')}@db.internal:5432/hello`,
    SESSION_SECRET: randomBytes(32).toString('hex'),
    ASSET_SIGNING_KEY: randomBytes(32).toString('hex'),
    PREVIEW_DATABASE_URL: `postgres://hello:${randomBytes(8).toString('hex')}@db-preview.internal:5432/hello`,
    PREVIEW_SESSION_SECRET: randomBytes(32).toString('hex'),
  };
  const forbidden = Object.values(values).flatMap((v) => encodedForms(v));

  before(async () => {
    app = mkdtempSync(join(tmpdir(), 'keyloft-hello-'));
    cpSync(join(REPO_ROOT, 'examples/hello-app'), app, { recursive: true });
    rmSync(join(app, 'dist'), { recursive: true, force: true });
    store = await createStore('sqlite');
    server = await startServer(store);
    api = await bootstrap(server);
  });
  after(async () => {
    await server?.stop();
    await store?.cleanup();
    if (app) rmSync(app, { recursive: true, force: true });
  });

  test('set secrets, start a deployment, build, run, complete', async () => {
    const env = cliEnv({ KEYLOFT_URL: server.url, KEYLOFT_TOKEN: api.token });
    const ok = async (args: string[], e: Record<string, string>, stdin?: string) => {
      const r = await keyloft(args, e, { cwd: app, ...(stdin !== undefined ? { stdin } : {}) }).done;
      assert.equal(r.code, 0, `keyloft ${args.join(' ')}: ${r.stderr}`);
      for (const f of forbidden) assert.ok(!r.stdout.includes(f) && !r.stderr.includes(f), `keyloft ${args[0]} printed a value`);
      return r;
    };

    await ok(['projects', 'create', '--slug', 'hello', '--name', 'Hello app', '--fly-app', 'hello-app'], env);
    await ok(['members', 'set-role', ADMIN_EMAIL, '--release', '--project', 'hello'], env);
    await ok(['secrets', 'set', '--project', 'hello', '--scope', 'production', 'DATABASE_URL=-'], env, values.DATABASE_URL);
    await ok(['secrets', 'set', '--project', 'hello', '--scope', 'production', 'SESSION_SECRET=-'], env, values.SESSION_SECRET);
    await ok(['secrets', 'set', '--project', 'hello', '--scope', 'build', 'ASSET_SIGNING_KEY=-'], env, values.ASSET_SIGNING_KEY);
    await ok(['secrets', 'set', '--project', 'hello', '--scope', 'preview', 'DATABASE_URL=-'], env, values.PREVIEW_DATABASE_URL);
    await ok(['secrets', 'set', '--project', 'hello', '--scope', 'preview', 'SESSION_SECRET=-'], env, values.PREVIEW_SESSION_SECRET);
    const pr = await ok(['secrets', 'list', '--project', 'hello', '--pr', '42'], env);
    assert.match(pr.stdout, /DATABASE_URL\s+preview/);
    assert.match(pr.stdout, /SESSION_SECRET\s+preview/);

    const started = await ok(['deploy', 'start', '--project', 'hello', '--env', 'production', '--ref', 'abc123'], env);
    const deployEnv = cliEnv(Object.fromEntries([...started.stdout.matchAll(/^export (KEYLOFT_\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!])));

    const build = await ok(['run', '--build', '--', process.execPath, 'build.js'], deployEnv);
    assert.match(build.stdout, /signed with ASSET_SIGNING_KEY \(64 bytes, from \$KEYLOFT_SECRETS_DIR\)/);
    assert.ok(existsSync(join(app, 'dist/index.html')));
    const { createHmac } = await import('node:crypto');
    const expected = createHmac('sha256', values.ASSET_SIGNING_KEY)
      .update(readFileSync(join(app, 'dist/index.html')))
      .digest('hex');
    assert.equal(readFileSync(join(app, 'dist/index.html.sig'), 'utf8').trim(), expected, 'the build used the exact build secret');

    const run = await ok(['run', '--', process.execPath, 'server.js', '--check'], deployEnv);
    assert.equal(run.stdout, 'server: DATABASE_URL: set\nserver: SESSION_SECRET: set\n');

    const leak = await keyloft(['run', '--', 'sh', '-c', 'echo "$SESSION_SECRET"'], deployEnv, { cwd: app }).done;
    assert.equal(leak.stdout, '***\n', "the README's masking demo shows ***");

    await ok(['deploy', 'complete', '--status', 'succeeded'], deployEnv);

    // The README's preview: pull request 42 gets the preview values, never the production ones.
    const preview = await ok(['deploy', 'start', '--project', 'hello', '--env', 'preview', '--pr', '42', '--ref', 'def456'], env);
    const previewEnv = cliEnv(Object.fromEntries([...preview.stdout.matchAll(/^export (KEYLOFT_\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!])));
    const got = await ok(['run', '--', process.execPath, '-e', 'process.stdout.write(String(process.env.DATABASE_URL === process.env.EXPECTED))'], {
      ...previewEnv,
      EXPECTED: values.PREVIEW_DATABASE_URL,
    });
    assert.equal(got.stdout, 'true', 'the preview deployment gets the preview DATABASE_URL');
    await ok(['deploy', 'complete', '--status', 'succeeded'], previewEnv);
    const list = await api.get('/api/v1/projects/hello/secrets');
    assert.equal(list.status, 200, list.text);
    for (const s of list.body.secrets as Array<{ name: string; status: string }>) assert.equal(s.status, 'deployed', `${s.name} is deployed`);
  });
});
