// Every dashboard page, rendered with known secret values stored (in every scope, in every
// status), must contain none of them: not in the markup, a hidden field, an attribute or a script.
// Form re-renders after an error must not echo the values that were just submitted either.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Api, ADMIN_EMAIL, ADMIN_PASSWORD, bootstrap, createUser, grantRelease } from '../helpers/client.js';
import { createStore, dialects, startServer, type TestServer, type TestStore } from '../helpers/server.js';

const rnd = () => randomBytes(8).toString('hex');

/** Values written by this file; each must stay out of every page. */
const values: string[] = [];
function val(label: string, v = `${label}_${rnd()}`): string {
  values.push(v);
  return v;
}

/** The forms a value could leak in: itself, each line, base64 and URL encodings. */
function forms(v: string): string[] {
  const out = new Set<string>([
    v,
    encodeURIComponent(v),
    Buffer.from(v).toString('base64'),
    Buffer.from(v).toString('base64url'),
    JSON.stringify(v).slice(1, -1),
  ]);
  for (const line of v.split('\n')) if (line.length >= 8 && !line.startsWith('-----')) out.add(line);
  return [...out].filter((s) => s.length >= 8);
}

function assertClean(html: string, where: string): void {
  for (const v of values) for (const f of forms(v)) assert.ok(!html.includes(f), `${where}: a secret value (or an encoding of one) appears in the page`);
}

for (const d of await dialects()) {
  describe(`no secret value in any page (${d.name})`, { skip: d.skip }, () => {
    let store: TestStore;
    let server: TestServer;
    let admin: Api;
    let cookie = '';
    let inviteUrl = '';
    let csrf = '';
    let deploymentId = '';
    const slug = 'shop';

    async function get(path: string): Promise<{ status: number; html: string; type: string }> {
      const res = await fetch(`${server.url}${path}`, { headers: { cookie }, redirect: 'manual' });
      return { status: res.status, html: await res.text(), type: res.headers.get('content-type') ?? '' };
    }

    async function post(path: string, fields: Record<string, string>): Promise<{ status: number; html: string }> {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
        redirect: 'manual',
      });
      return { status: res.status, html: await res.text() };
    }

    before(async () => {
      store = await createStore(d.name);
      server = await startServer(store);
      admin = await bootstrap(server);
      const pem = val('pem', `-----BEGIN PRIVATE KEY-----\nMIIE${rnd()}${rnd()}\nAAAA${rnd()}${rnd()}\n-----END PRIVATE KEY-----\n`);
      const created = await admin.post('/api/v1/projects', {
        slug,
        name: 'Shop',
        secrets: [
          { name: 'DATABASE_URL', scope: 'production', value: val('dburl', `postgres://u:${rnd()}@db/x`) },
          { name: 'TLS_KEY', scope: 'production', value: pem },
          { name: 'STRIPE_KEY', scope: 'preview', value: val('stripe') },
          { name: 'OLD_FLAG', scope: 'preview', value: val('oldflag') },
          { name: 'NPM_TOKEN', scope: 'build', value: val('npm') },
        ],
      });
      assert.equal(created.status, 201, created.text);
      await grantRelease(admin, slug);
      const imp = await admin.call(
        'POST',
        `/api/v1/projects/${slug}/secrets/production:import`,
        `IMPORTED=${val('imported')}\nQUOTED="${val('quoted')} with spaces"\n`,
        {
          contentType: 'text/plain',
        },
      );
      assert.equal(imp.status, 200, imp.text);

      // Deployments: production succeeded, two previews (one succeeded, one running) → every status shows up.
      const prod = await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'production', ref: 'abc123' });
      assert.equal(prod.status, 201, prod.text);
      deploymentId = prod.body.id;
      await new Api(server.url, prod.body.token).post(`/api/v1/deployments/${prod.body.id}/complete`, { status: 'succeeded' });
      const p1 = await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'preview', pr: 1 });
      await new Api(server.url, p1.body.token).post(`/api/v1/deployments/${p1.body.id}/complete`, { status: 'succeeded' });
      await admin.put(`/api/v1/projects/${slug}/secrets/preview/STRIPE_KEY`, { value: val('stripe2') });
      const p2 = await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'preview', pr: 2 });
      await new Api(server.url, p2.body.token).post(`/api/v1/deployments/${p2.body.id}/complete`, { status: 'succeeded' });
      await admin.post(`/api/v1/projects/${slug}/deployments`, { environment: 'preview', pr: 3 });
      // After the deployments: one pending change, one pending removal.
      await admin.put(`/api/v1/projects/${slug}/secrets/production/DATABASE_URL`, { value: val('dburl2') });
      await admin.delete(`/api/v1/projects/${slug}/secrets/preview/OLD_FLAG`);
      await admin.delete(`/api/v1/projects/${slug}/secrets/production/IMPORTED`);

      // A per-PR preview override (issue 9).
      assert.equal((await admin.put(`/api/v1/projects/${slug}/secrets/preview/STRIPE_KEY?pr=5`, { value: val('stripe-pr5') })).status, 201);
      await admin.post(`/api/v1/projects/${slug}/deploy-keys`, { name: 'ci' });
      await createUser(server, admin, 'dev@example.com');
      await admin.post(`/api/v1/projects/${slug}/members`, { email: 'dev@example.com', role: 'member' });
      // A pending invitation (issue 15): listed on Members, its link page rendered.
      inviteUrl = (await admin.post(`/api/v1/projects/${slug}/invitations`, { email: 'invitee@example.com', role: 'viewer' })).body.url;

      const res = await fetch(`${server.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
      });
      assert.equal(res.status, 200);
      cookie = res.headers.get('set-cookie')!.split(';')[0]!;
      csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
    });

    after(async () => {
      await server?.stop();
      await store?.cleanup();
    });

    it('renders every page without a value', async () => {
      const paths = [
        '/projects',
        '/projects/new',
        `/projects/${slug}`,
        `/projects/${slug}/deployments`,
        `/projects/${slug}/deployments?env=preview`,
        `/projects/${slug}/deployments/${deploymentId}`,
        `/projects/${slug}/settings/general`,
        `/projects/${slug}/settings/secrets`,
        `/projects/${slug}/settings/secrets?env=production`,
        `/projects/${slug}/settings/secrets?env=preview`,
        `/projects/${slug}/settings/build`,
        `/projects/${slug}/settings/history/production/DATABASE_URL`,
        `/projects/${slug}/settings/history/production/TLS_KEY`,
        `/projects/${slug}/settings/history/preview/OLD_FLAG`,
        `/projects/${slug}/settings/history/build/NPM_TOKEN`,
        `/projects/${slug}/settings/secrets/delete?scope=production&name=TLS_KEY`,
        `/projects/${slug}/settings/build/delete?scope=build&name=NPM_TOKEN`,
        `/projects/${slug}/settings/history/preview/STRIPE_KEY?pr=5`,
        `/projects/${slug}/settings/secrets/delete?scope=preview&name=STRIPE_KEY&pr=5`,
        `/projects/${slug}/settings/members`,
        `/projects/${slug}/settings/members/remove?email=dev%40example.com`,
        `/projects/${slug}/settings/ci-identity`,
        `/projects/${slug}/settings/ci-identity?preset=github-pulls`,
        `/projects/${slug}/settings/audit`,
        `/projects/${slug}/settings/audit?action=secret.updated`,
        `/projects/${slug}/settings/audit?name=DATABASE_URL`,
        `/projects/${slug}/settings/secrets?q=data`,
        `/projects/${slug}/deployments?pr=5`,
        '/account/tokens',
        '/account',
        '/users',
        new URL(inviteUrl).pathname,
      ];
      for (const path of paths) {
        const r = await get(path);
        assert.equal(r.status, 200, `${path}: ${r.status} ${r.html.slice(0, 200)}`);
        assert.match(r.type, /^text\/html/, path);
        assertClean(r.html, path);
      }
      // The statuses really were all there.
      const all = (await get(`/projects/${slug}/settings/secrets`)).html;
      for (const s of ['deployed', 'pending', 'pending removal', 'applied to 1 of 3 preview apps']) assert.ok(all.includes(s), `status "${s}" shown`);
      assert.ok((await get(`/projects/${slug}/deployments/${deploymentId}`)).html.includes('TLS_KEY'), 'pinned names shown');
    });

    it('the review, copy and restore pages (issue 9) show no stored value', async () => {
      const pages: Array<[string, Record<string, string>, number]> = [
        // Copy review (a dry run) and a refused copy.
        [`/projects/${slug}/settings/copy`, { from: 'production', to: 'preview', names: '' }, 200],
        [`/projects/${slug}/settings/copy`, { from: 'production', to: 'preview', names: 'TLS_KEY DATABASE_URL', overwrite: '1' }, 200],
        // A key the source lacks: the Secrets page again, the error on the keys field (not a full-page 404).
        [`/projects/${slug}/settings/copy`, { from: 'production', to: 'preview', names: 'NOT_THERE' }, 400],
        // Import review: neither stored values nor the text just pasted (it waits on the server; the Confirm form holds only its id).
        [
          `/projects/${slug}/settings/secrets/import`,
          { scope: 'production', dotenv: `DATABASE_URL=${val('changed')}\nBRAND_NEW=${val('new')}\n`, replace: '1' },
          200,
        ],
        [`/projects/${slug}/settings/build/import`, { scope: 'build', dotenv: `NPM_TOKEN=${val('other')}\n` }, 200],
        // An invitation made on the Members page (the page shows its link once).
        [`/projects/${slug}/settings/invitations`, { email: 'another-invitee@example.com', role: 'member' }, 201],
        // Restore refused (a tombstone) re-renders the history page with the error.
        [`/projects/${slug}/settings/history/preview/OLD_FLAG/restore`, { version: '2' }, 400],
      ];
      for (const [path, fields, status] of pages) {
        const r = await post(path, fields);
        assert.equal(r.status, status, `${path}: ${r.status} ${r.html.slice(0, 300)}`);
        assertClean(r.html, `POST ${path}`);
      }
      const pasted = val('pasted');
      const review = await post(`/projects/${slug}/settings/secrets/import`, { scope: 'production', dotenv: `REVIEWED=${pasted}\n` });
      assert.ok(review.html.includes('Review import') && review.html.includes('REVIEWED'), 'the review lists the pasted names');
      assertClean(review.html, 'import review');
      assert.doesNotMatch(review.html, /<textarea[^>]*name="dotenv"/, 'no copy of the pasted text in the Confirm form');
      const pending = /name="pending" value="(pi_[^"]+)"/.exec(review.html)?.[1];
      assert.ok(pending, 'the Confirm form carries the pending id');
      const confirmed = await post(`/projects/${slug}/settings/secrets/import`, { scope: 'production', confirm: '1', pending: pending! });
      assert.equal(confirmed.status, 303, confirmed.html.slice(0, 300));
      const after = await get(`/projects/${slug}/settings/secrets`);
      assert.ok(after.html.includes('REVIEWED'), 'the confirmed import was written');
      assertClean(after.html, 'secrets after a confirmed import');
      const removal = await post(`/projects/${slug}/settings/secrets/import`, { scope: 'production', dotenv: `DATABASE_URL=${val('x')}\n`, replace: '1' });
      assert.ok(removal.html.includes('Review import') && removal.html.includes('TLS_KEY'), 'the review lists the removals of replace');
      assertClean(removal.html, 'import review with replace');
      // A restore that works redirects; the history page then shows the restored version.
      const restored = await post(`/projects/${slug}/settings/history/production/DATABASE_URL/restore`, { version: '1' });
      assert.equal(restored.status, 303, restored.html.slice(0, 300));
      const hist = await get(`/projects/${slug}/settings/history/production/DATABASE_URL`);
      assert.ok(hist.html.includes('restored'), 'the history shows the restore');
      assertClean(hist.html, 'history after restore');
      const dep = await get(`/projects/${slug}/deployments/${deploymentId}`);
      assert.ok(dep.html.includes('Changes'), 'the deployment page shows its changes');
      assertClean(dep.html, 'deployment with changes');
    });

    it('does not echo submitted values when a form comes back with errors', async () => {
      const v1 = val('typed1');
      const v2 = val('typed2');
      const cases: Array<[string, Record<string, string>, number]> = [
        [
          '/projects/new',
          { name: 'X', slug: 'Bad Slug!', rows: '2', name_0: 'GOOD', value_0: v1, scope_0: 'production', name_1: '1BAD', value_1: v2, scope_1: 'preview' },
          400,
        ],
        ['/projects/new', { name: 'X', slug: 'x', rows: '1', name_0: 'GOOD', value_0: v1, scope_0: 'production', _action: 'add_row' }, 200],
        ['/projects/new', { name: 'Shop again', slug, rows: '1', name_0: 'GOOD', value_0: v1, scope_0: 'production' }, 409],
        [`/projects/${slug}/settings/secrets`, { name: 'bad name', value: v1, scope: 'production' }, 400],
        [`/projects/${slug}/settings/secrets`, { name: 'NUL', value: `${v2}\u0000`, scope: 'production' }, 400],
        [`/projects/${slug}/settings/build`, { name: '', value: v1, scope: 'build' }, 400],
        [`/projects/${slug}/settings/secrets/import`, { scope: 'production', dotenv: `A=${v1}\nB="${v2}\n` }, 400],
        [`/projects/${slug}/settings/build/import`, { scope: 'build', dotenv: `OK=${v1}\n${v2}\n` }, 400],
      ];
      for (const [path, fields, status] of cases) {
        const r = await post(path, fields);
        assert.equal(r.status, status, `${path}: ${r.status} ${r.html.slice(0, 300)}`);
        assert.ok(r.html.includes('field-error') || r.html.includes('error-summary') || status === 200, `${path}: errors are shown`);
        assertClean(r.html, `POST ${path}`);
      }
    });
  });
}
