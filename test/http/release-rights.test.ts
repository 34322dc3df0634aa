import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Api, ADMIN_EMAIL, ADMIN_PASSWORD, bootstrap, createUser, webSession } from '../helpers/client.js';
import { expireDeployment, type TestApp, testApp } from '../helpers/app.js';
import { dialects } from '../helpers/server.js';

const v = (label: string) => `${label}-${randomBytes(8).toString('hex')}`;
const PROD = v('rights-prod');
const BUILD = v('rights-build');
const PREVIEW = v('rights-preview');
const MEMBER_PW = 'another long password';

/** A signed-in browser session (cookie + CSRF token) speaking JSON to the API. */
async function session(server: TestApp, email: string, password: string) {
  const { cookie, csrf: csrfToken } = await webSession(server, email, password);
  const api = new Api(server.url, undefined, server.fetch);
  return {
    post: (path: string, body: unknown) => api.call('POST', path, body, { headers: { cookie, 'x-csrf-token': csrfToken, origin: server.url } }),
    /** A dashboard form post (URL-encoded, CSRF token in the form); answers the redirect, not followed. */
    form: (path: string, fields: Record<string, string>) =>
      server.fetch(`${server.url}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrfToken, ...fields }).toString(),
      }),
    page: async (path: string) => (await server.fetch(`${server.url}${path}`, { headers: { cookie } })).text(),
  };
}

for (const d of await dialects()) {
  describe(`${d.name}: release rights (who may start deployments)`, { skip: d.skip }, () => {
    let server: TestApp;
    let admin: Api;
    let member: Api;
    let viewer: Api;
    let outsider: Api;
    const slug = 'rights';
    const start = (api: Api, body: Record<string, unknown> = { environment: 'production' }) => api.post(`/api/v1/projects/${slug}/deployments`, body);
    const patchMember = (api: Api, email: string, body: unknown) => api.call('PATCH', `/api/v1/projects/${slug}/members/${encodeURIComponent(email)}`, body);
    const members = async () => (await admin.get(`/api/v1/projects/${slug}/members`)).body.members as Array<{ email: string; role: string; release: boolean }>;

    before(async () => {
      server = await testApp(undefined, { dialect: d.name, env: { KEYLOFT_DEPLOY_KEY_MAX_RUNNING: '2' } });
      admin = await bootstrap(server);
      const r = await admin.post('/api/v1/projects', {
        slug,
        name: 'Rights',
        secrets: [
          { name: 'DB_URL', scope: 'production', value: PROD },
          { name: 'DB_URL', scope: 'preview', value: PREVIEW },
          { name: 'NPM_TOKEN', scope: 'build', value: BUILD },
        ],
      });
      assert.equal(r.status, 201, r.text);
      member = await createUser(server, admin, 'member@example.com', MEMBER_PW);
      viewer = await createUser(server, admin, 'viewer@example.com');
      outsider = await createUser(server, admin, 'outsider@example.com');
      assert.equal((await admin.post(`/api/v1/projects/${slug}/members`, { email: 'member@example.com', role: 'member' })).status, 201);
      assert.equal((await admin.post(`/api/v1/projects/${slug}/members`, { email: 'viewer@example.com', role: 'viewer' })).status, 201);
    });
    after(async () => {
      await server?.stop();
    });

    test('the release grant is off by default for every role, the project creator (admin) included', async () => {
      const list = await members();
      assert.deepEqual(
        list.map((m) => [m.email, m.role, m.release]),
        [
          [ADMIN_EMAIL, 'admin', false],
          ['member@example.com', 'member', false],
          ['viewer@example.com', 'viewer', false],
        ],
      );
    });

    test('a person without the grant gets 403 release_not_granted: admin and member, personal token and session; nothing is started', async () => {
      const before = (await admin.get(`/api/v1/projects/${slug}/deployments?limit=200`)).body.deployments.length;
      const adminSession = await session(server, ADMIN_EMAIL, ADMIN_PASSWORD);
      const memberSession = await session(server, 'member@example.com', MEMBER_PW);
      for (const [what, res] of [
        ['admin token', await start(admin)],
        ['member token', await start(member)],
        ['viewer token', await start(viewer)],
        ['admin session', await adminSession.post(`/api/v1/projects/${slug}/deployments`, { environment: 'production' })],
        ['member session', await memberSession.post(`/api/v1/projects/${slug}/deployments`, { environment: 'preview', pr: 3 })],
      ] as const) {
        assert.equal(res.status, 403, `${what}: ${res.text}`);
        assert.equal(res.body.error.code, 'release_not_granted', `${what}: ${res.text}`);
        assert.equal(res.body.token, undefined, what);
      }
      // A non-member still learns nothing about the project.
      const out = await start(outsider);
      assert.equal(out.status, 404, out.text);
      const afterCount = (await admin.get(`/api/v1/projects/${slug}/deployments?limit=200`)).body.deployments.length;
      assert.equal(afterCount, before, 'no deployment was created by a refused start');
    });

    test('copying production or build values elsewhere needs the grant too (they would reach preview deployments); preview values do not', async () => {
      for (const [who, api] of [
        ['admin', admin],
        ['member', member],
      ] as const) {
        for (const [from, to] of [
          ['production', 'preview'],
          ['build', 'preview'],
          ['production', 'build'],
        ]) {
          const r = await api.post(`/api/v1/projects/${slug}/secrets:copy`, { from, to, overwrite: true });
          assert.equal(r.status, 403, `${who} ${from} → ${to}: ${r.text}`);
          assert.equal(r.body.error.code, 'release_not_granted', r.text);
        }
        const ok = await api.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'preview', to: 'build', dryRun: true });
        assert.equal(ok.status, 200, `${who} preview → build: ${ok.text}`);
      }
      const preview = (await admin.get(`/api/v1/projects/${slug}/secrets?scope=preview`)).body.secrets as Array<{ name: string; version: number }>;
      assert.deepEqual(
        preview.map((x) => [x.name, x.version]),
        [['DB_URL', 1]],
        'nothing was copied',
      );
    });

    test('only an admin sets the grant: a member gets 403, a non-member 404, a bad value 400', async () => {
      const byMember = await patchMember(member, 'member@example.com', { release: true });
      assert.equal(byMember.status, 403, byMember.text);
      const addByMember = await member.post(`/api/v1/projects/${slug}/members`, { email: 'member@example.com', role: 'member', release: true });
      assert.equal(addByMember.status, 403, addByMember.text);
      const byOutsider = await patchMember(outsider, 'outsider@example.com', { release: true });
      assert.equal(byOutsider.status, 404, byOutsider.text);
      for (const bad of ['yes', 1, 'true', null]) {
        const r = await patchMember(admin, 'member@example.com', { release: bad });
        assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
        assert.equal(r.body.error.field, 'release', r.text);
      }
      const notMember = await patchMember(admin, 'outsider@example.com', { release: true });
      assert.equal(notMember.status, 404, notMember.text);
      assert.ok(
        (await members()).every((m) => !m.release),
        'no grant was set by a refused request',
      );
    });

    test('with the grant a person starts a deployment, marked "person" in the start reply, the list, the deployment and the audit log', async () => {
      const g = await patchMember(admin, 'member@example.com', { release: true });
      assert.equal(g.status, 200, g.text);
      assert.equal(g.body.member.release, true);
      assert.equal(g.body.member.role, 'member');
      const s = await start(member);
      assert.equal(s.status, 201, s.text);
      assert.deepEqual(s.body.startedBy, { kind: 'person', name: 'member@example.com' });
      assert.deepEqual(s.body.deployment.startedBy, { kind: 'person', name: 'member@example.com' });
      const released = await admin.with(s.body.token).get(`/api/v1/deployments/${s.body.id}/secrets`);
      assert.equal(released.status, 200, released.text);
      assert.equal(released.body.runtime.DB_URL, PROD);
      const shown = await viewer.get(`/api/v1/projects/${slug}/deployments/${s.body.id}`);
      assert.deepEqual(shown.body.deployment.startedBy, { kind: 'person', name: 'member@example.com' });
      const listed = (await viewer.get(`/api/v1/projects/${slug}/deployments`)).body.deployments.find((x: { id: string }) => x.id === s.body.id);
      assert.deepEqual(listed.startedBy, { kind: 'person', name: 'member@example.com' });
      const events = (await admin.get(`/api/v1/projects/${slug}/audit?limit=200`)).body.events as Array<{
        action: string;
        detail: Record<string, unknown> | null;
      }>;
      const started = events.find((e) => e.action === 'deployment.started' && e.detail?.deployment === s.body.id);
      assert.deepEqual(started?.detail?.startedBy, { kind: 'person', name: 'member@example.com' });
      // The grant also allows copying production values (dry run here).
      const copy = await member.post(`/api/v1/projects/${slug}/secrets:copy`, { from: 'production', to: 'preview', dryRun: true });
      assert.equal(copy.status, 200, copy.text);
      // The admin's own grant is separate: still refused.
      assert.equal((await start(admin)).body.error?.code, 'release_not_granted');
      assert.equal((await admin.post(`/api/v1/deployments/${s.body.id}/complete`, { status: 'succeeded' })).status, 200);
    });

    test('grant and revoke are audited; a revoked grant refuses the next start', async () => {
      const add = await admin.post(`/api/v1/projects/${slug}/members`, { email: 'viewer@example.com', role: 'viewer', release: true });
      assert.equal(add.status, 200, add.text);
      assert.equal(add.body.member.release, true);
      const r = await patchMember(admin, 'viewer@example.com', { release: false });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.member.release, false);
      // A role change without `release` keeps the grant as it is.
      assert.equal((await admin.post(`/api/v1/projects/${slug}/members`, { email: 'member@example.com', role: 'member' })).body.member.release, true);
      const events = (await admin.get(`/api/v1/projects/${slug}/audit?limit=200`)).body.events as Array<{
        action: string;
        actor: string;
        detail: Record<string, unknown> | null;
      }>;
      const grants = events.filter((e) => e.action === 'member.release_granted' || e.action === 'member.release_revoked');
      assert.deepEqual(
        grants.map((e) => [e.action, e.detail?.email]),
        [
          ['member.release_revoked', 'viewer@example.com'],
          ['member.release_granted', 'viewer@example.com'],
          ['member.release_granted', 'member@example.com'],
        ],
      );
      assert.ok(
        grants.every((e) => e.actor.startsWith(ADMIN_EMAIL)),
        'every grant change is by the admin',
      );
      const refused = await start(viewer);
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.body.error.code, 'release_not_granted');
    });

    test('creating a deploy key needs the grant (the key starts deployments); deploy keys then work without any grant, recorded as deploy_key', async () => {
      const refused = await admin.post(`/api/v1/projects/${slug}/deploy-keys`, { name: 'sneaky' });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.body.error.code, 'release_not_granted');
      assert.equal(refused.body.token, undefined);
      assert.deepEqual((await admin.get(`/api/v1/projects/${slug}/deploy-keys`)).body.deployKeys, [], 'no key was created');
      assert.equal((await patchMember(admin, ADMIN_EMAIL, { release: true })).status, 200);
      const k = await admin.post(`/api/v1/projects/${slug}/deploy-keys`, { name: 'ci' });
      assert.equal(k.status, 201, k.text);
      const s = await start(admin.with(k.body.token));
      assert.equal(s.status, 201, s.text);
      assert.deepEqual(s.body.startedBy, { kind: 'deploy_key', name: 'ci' });
      assert.equal((await admin.with(s.body.token).post(`/api/v1/deployments/${s.body.id}/complete`, { status: 'succeeded' })).status, 200);
      // The key keeps working after its creator's grant is revoked: it is the pipeline's credential, revoked on its own.
      assert.equal((await patchMember(admin, ADMIN_EMAIL, { release: false })).status, 200);
      const again = await start(admin.with(k.body.token));
      assert.equal(again.status, 201, again.text);
      assert.equal((await admin.with(again.body.token).post(`/api/v1/deployments/${again.body.id}/complete`, { status: 'succeeded' })).status, 200);
      assert.equal((await patchMember(admin, ADMIN_EMAIL, { release: true })).status, 200);
    });

    test('a deploy key has at most KEYLOFT_DEPLOY_KEY_MAX_RUNNING running deployments; completed and expired ones do not count', async () => {
      const k = await admin.post(`/api/v1/projects/${slug}/deploy-keys`, { name: 'busy' });
      const key = admin.with(k.body.token);
      const other = admin.with((await admin.post(`/api/v1/projects/${slug}/deploy-keys`, { name: 'other' })).body.token);
      const a = await start(key);
      const b = await start(key, { environment: 'preview', pr: 5 });
      assert.equal(a.status, 201, a.text);
      assert.equal(b.status, 201, b.text);
      const third = await start(key);
      assert.equal(third.status, 429, third.text);
      assert.equal(third.body.error.code, 'running_deployments_limit');
      assert.match(third.body.error.message, /KEYLOFT_DEPLOY_KEY_MAX_RUNNING=2/);
      assert.equal(third.body.error.details.limit, 2);
      // Another key of the same project is counted on its own.
      assert.equal((await start(other)).status, 201);
      // Completing one frees a place.
      assert.equal((await admin.with(a.body.token).post(`/api/v1/deployments/${a.body.id}/complete`, { status: 'succeeded' })).status, 200);
      const c = await start(key);
      assert.equal(c.status, 201, c.text);
      assert.equal((await start(key)).status, 429);
      // An expired one does not count.
      expireDeployment(server, b.body.expiresAt);
      const e = await start(key);
      assert.equal(e.status, 201, e.text);
    });

    test('preview build secrets: on by default; an admin turns them off, then a preview pins and releases none and says why', async () => {
      const key = admin.with((await admin.post(`/api/v1/projects/${slug}/deploy-keys`, { name: 'previews' })).body.token);
      assert.equal((await admin.get(`/api/v1/projects/${slug}`)).body.project.previewBuildSecrets, true);
      const on = await start(key, { environment: 'preview', pr: 21 });
      assert.equal(on.status, 201, on.text);
      assert.deepEqual(on.body.pinned.build, [{ name: 'NPM_TOKEN', version: 1 }]);
      assert.equal(on.body.pinned.buildSecretsWithheld, undefined);
      assert.equal((await admin.with(on.body.token).post(`/api/v1/deployments/${on.body.id}/complete`, { status: 'succeeded' })).status, 200);

      const byMember = await member.call('PATCH', `/api/v1/projects/${slug}`, { previewBuildSecrets: false });
      assert.equal(byMember.status, 403, byMember.text);
      for (const bad of ['no', 0, null]) {
        const r = await admin.call('PATCH', `/api/v1/projects/${slug}`, { previewBuildSecrets: bad });
        assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
        assert.equal(r.body.error.field, 'previewBuildSecrets', r.text);
      }
      assert.equal((await admin.get(`/api/v1/projects/${slug}`)).body.project.previewBuildSecrets, true, 'a refused change changed nothing');
      const off = await admin.call('PATCH', `/api/v1/projects/${slug}`, { previewBuildSecrets: false });
      assert.equal(off.status, 200, off.text);
      assert.equal(off.body.project.previewBuildSecrets, false);

      const p = await start(key, { environment: 'preview', pr: 22 });
      assert.equal(p.status, 201, p.text);
      assert.deepEqual(p.body.pinned.build, []);
      assert.equal(p.body.pinned.buildSecretsWithheld, true);
      const rel = await admin.with(p.body.token).get(`/api/v1/deployments/${p.body.id}/secrets`);
      assert.equal(rel.status, 200, rel.text);
      assert.deepEqual(rel.body, { runtime: { DB_URL: PREVIEW }, build: {}, buildWithheld: true });
      assert.ok(!rel.text.includes(Buffer.from(BUILD).toString('base64')));
      assert.equal((await admin.with(p.body.token).post(`/api/v1/deployments/${p.body.id}/complete`, { status: 'succeeded' })).status, 200);
      // Production keeps its build secrets.
      const prod = await start(key);
      assert.equal(prod.status, 201, prod.text);
      assert.deepEqual(prod.body.pinned.build, [{ name: 'NPM_TOKEN', version: 1 }]);
      const prodRel = await admin.with(prod.body.token).get(`/api/v1/deployments/${prod.body.id}/secrets`);
      assert.equal(prodRel.body.build.NPM_TOKEN, Buffer.from(BUILD).toString('base64'));
      assert.equal(prodRel.body.buildWithheld, undefined);
      assert.equal((await admin.with(prod.body.token).post(`/api/v1/deployments/${prod.body.id}/complete`, { status: 'succeeded' })).status, 200);
      const events = (await admin.get(`/api/v1/projects/${slug}/audit?limit=50&action=project.updated`)).body.events as Array<{
        detail: Record<string, unknown> | null;
      }>;
      assert.equal(events[0]?.detail?.previewBuildSecrets, false);
      assert.equal((await admin.call('PATCH', `/api/v1/projects/${slug}`, { previewBuildSecrets: true })).status, 200);
    });

    test('dashboard: the Members page warns what the grant means; its forms grant and revoke; Deployments and the audit log mark person-started releases', async () => {
      const web = await session(server, ADMIN_EMAIL, ADMIN_PASSWORD);
      const page = await web.page(`/projects/${slug}/settings/members`);
      assert.match(page, /can read values by starting a deployment/);
      assert.match(page, /name="release"/);
      // The row form carries the checkbox: checked grants, unchecked (absent) revokes.
      let r = await web.form(`/projects/${slug}/settings/members/role`, { email: 'viewer@example.com', role: 'viewer', releaseShown: '1', release: 'yes' });
      assert.equal(r.status, 303, await r.text());
      assert.equal((await members()).find((m) => m.email === 'viewer@example.com')?.release, true);
      r = await web.form(`/projects/${slug}/settings/members/role`, { email: 'viewer@example.com', role: 'viewer', releaseShown: '1' });
      assert.equal(r.status, 303);
      assert.equal((await members()).find((m) => m.email === 'viewer@example.com')?.release, false);
      // A form without the checkbox (an old page) leaves the grant alone.
      assert.equal((await members()).find((m) => m.email === 'member@example.com')?.release, true);
      r = await web.form(`/projects/${slug}/settings/members/role`, { email: 'member@example.com', role: 'member' });
      assert.equal(r.status, 303);
      assert.equal((await members()).find((m) => m.email === 'member@example.com')?.release, true);
      // A member's session cannot grant through the form either.
      const memberWeb = await session(server, 'member@example.com', MEMBER_PW);
      const denied = await memberWeb.form(`/projects/${slug}/settings/members/role`, {
        email: 'viewer@example.com',
        role: 'viewer',
        releaseShown: '1',
        release: 'yes',
      });
      assert.equal(denied.status, 403);
      assert.equal((await members()).find((m) => m.email === 'viewer@example.com')?.release, false);
      // Deployments list, deployment page and audit log mark the person-started deployment.
      const s = await start(member);
      assert.equal(s.status, 201, s.text);
      const list = await web.page(`/projects/${slug}/deployments`);
      assert.match(list, /data-started-by="person"/);
      assert.match(list, /data-started-by="deploy_key"/);
      const one = await web.page(`/projects/${slug}/deployments/${s.body.id}`);
      assert.match(one, /started by a person with the release grant, not the pipeline/);
      const audit = await web.page(`/projects/${slug}/settings/audit`);
      assert.match(audit, /started by a person/);
      // General: the preview build-secrets checkbox.
      const general = await web.page(`/projects/${slug}/settings/general`);
      assert.match(general, /Build secrets for preview/);
      r = await web.form(`/projects/${slug}/settings/general`, {
        name: 'Rights',
        flyApp: 'rights',
        flyPreviewPattern: 'rights-pr-<pr>',
        previewBuildSecretsShown: '1',
      });
      assert.equal(r.status, 303, await r.text());
      assert.equal((await admin.get(`/api/v1/projects/${slug}`)).body.project.previewBuildSecrets, false);
      r = await web.form(`/projects/${slug}/settings/general`, {
        name: 'Rights',
        flyApp: 'rights',
        flyPreviewPattern: 'rights-pr-<pr>',
        previewBuildSecretsShown: '1',
        previewBuildSecrets: 'yes',
      });
      assert.equal((await admin.get(`/api/v1/projects/${slug}`)).body.project.previewBuildSecrets, true);
      assert.equal((await admin.with(s.body.token).post(`/api/v1/deployments/${s.body.id}/complete`, { status: 'succeeded' })).status, 200);
    });

    test('an invitation carries the release grant only when the admin gives it; accepting it sets the grant and audits it', async () => {
      const tokenOf = (url: string) => /\/invitations\/(klinv_[A-Za-z0-9_-]{43})$/.exec(url)![1]!;
      const accept = (token: string) =>
        server.fetch(`${server.url}/api/v1/invitations/${token}/accept`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ password: 'a new and long password' }),
        });
      for (const [email, release] of [
        ['invited-release@example.com', true],
        ['invited-plain@example.com', false],
      ] as const) {
        const inv = await admin.post(`/api/v1/projects/${slug}/invitations`, { email, role: 'member', ...(release ? { release: true } : {}) });
        assert.equal(inv.status, 201, inv.text);
        const r = await accept(tokenOf(inv.body.url));
        assert.equal(r.status, 200, await r.text());
        assert.equal((await members()).find((m) => m.email === email)?.release, release, email);
      }
      // A member cannot invite anyone with the grant.
      const byMember = await member.post(`/api/v1/projects/${slug}/invitations`, { email: 'sneaky@example.com', role: 'member', release: true });
      assert.equal(byMember.status, 403, byMember.text);
      const events = (await admin.get(`/api/v1/projects/${slug}/audit?limit=200&action=member.release_granted`)).body.events as Array<{
        detail: Record<string, unknown> | null;
      }>;
      assert.ok(
        events.some((e) => e.detail?.email === 'invited-release@example.com' && e.detail?.via === 'invitation'),
        'accepting an invitation with the grant is audited as member.release_granted',
      );
      assert.ok(!events.some((e) => e.detail?.email === 'invited-plain@example.com'));
    });
  });
}
