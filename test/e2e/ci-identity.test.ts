// Project Settings → CI identity: the trust-policy page works without JavaScript (admins create and
// delete policies, with field errors next to the form), non-admins see no policy, and a cross-site
// form post is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_EMAIL, ADMIN_PASSWORD, type Api, bootstrap, createUser } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';

describe('web: Project Settings → CI identity (sqlite)', () => {
  let store: TestStore;
  let server: TestServer;
  let admin: Api;
  const slug = 'shop';
  const page = `/projects/${slug}/settings/ci-identity`;

  async function signIn(email: string, password: string) {
    const res = await fetch(`${server.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    assert.equal(res.status, 200);
    return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
  }
  const get = async (s: { cookie: string }, path: string, flash?: string | null) => {
    const res = await fetch(`${server.url}${path}`, { headers: { cookie: flash ? `${s.cookie}; ${flash}` : s.cookie }, redirect: 'manual' });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  };
  const post = async (s: { cookie: string; csrf: string }, path: string, fields: Record<string, string>, csrf = s.csrf) => {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
      redirect: 'manual',
    });
    const flash = /keyloft_flash=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? null;
    return { status: res.status, html: await res.text(), location: res.headers.get('location'), flash };
  };

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store);
    admin = await bootstrap(server);
    assert.equal((await admin.post('/api/v1/projects', { slug, name: 'Shop' })).status, 201);
    await createUser(server, admin, 'member@example.com');
    assert.equal((await admin.post(`/api/v1/projects/${slug}/members`, { email: 'member@example.com', role: 'member' })).status, 201);
  });
  after(async () => {
    await server?.stop();
    await store?.cleanup();
  });

  it('an admin adds a policy from the GitHub example, sees it listed with a flash, and deletes it after confirming', async () => {
    const s = await signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
    const empty = await get(s, page);
    assert.equal(empty.status, 200);
    assert.match(empty.html, /aria-current="page"[^>]*>CI identity</);
    assert.match(empty.html, /No trust policies yet/);
    const preset = await get(s, `${page}?preset=github-pulls`);
    assert.match(preset.html, /value="repo:OWNER\/REPO:pull_request"/);
    assert.match(preset.html, /<option value="preview" selected/);
    assert.match(preset.html, /value="https:\/\/token\.actions\.githubusercontent\.com"/);
    const created = await post(s, page, {
      name: 'pulls',
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'https://keyloft.example.com',
      subject: 'repo:acme/shop:pull_request',
      environment: 'preview',
      claims: 'repository_owner=acme\n\nworkflow=deploy*',
    });
    assert.equal(created.status, 303, created.html);
    assert.equal(created.location, page);
    const listed = await get(s, page, created.flash);
    assert.match(listed.html, /Added the trust policy pulls/);
    assert.match(listed.html, /repo:acme\/shop:pull_request/);
    assert.match(listed.html, /workflow=deploy\*/);
    const policies = (await admin.get(`/api/v1/projects/${slug}/trust-policies`)).body.trustPolicies;
    assert.deepEqual(policies[0].claims, { repository_owner: 'acme', workflow: 'deploy*' });
    const id = policies[0].id as string;
    const confirm = await get(s, `${page}/${id}/delete`);
    assert.equal(confirm.status, 200);
    assert.match(confirm.html, /Delete the trust policy “pulls”\?/);
    const deleted = await post(s, `${page}/${id}/delete`, {});
    assert.equal(deleted.status, 303);
    assert.match((await get(s, page, deleted.flash)).html, /Deleted the trust policy pulls/);
    assert.equal((await admin.get(`/api/v1/projects/${slug}/trust-policies`)).body.trustPolicies.length, 0);
    assert.equal((await get(s, `${page}/${id}/delete`)).status, 404);
  });

  it('a bad form comes back with the error next to its field and the input kept', async () => {
    const s = await signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
    for (const [fields, field, message] of [
      [{ issuer: 'http://issuer.example.com' }, 'issuer', /issuer must be https:\/\//],
      [{ subject: '*' }, 'subject', /must start with literal text/],
      [{ claims: 'no equals sign' }, 'claims', /line 1 of claims must be CLAIM=PATTERN/],
      [{ claims: 'aud=x' }, 'claims', /claim aud is checked by keyloft itself/],
      [{ name: '' }, 'name', /name is required/],
    ] as const) {
      const r = await post(s, page, {
        name: 'n',
        issuer: 'https://gitlab.com',
        audience: 'a',
        subject: 'project_path:acme/shop:ref_type:branch:ref:main',
        environment: 'production',
        ...fields,
      });
      assert.equal(r.status, 400, `${field}: ${r.status}`);
      assert.match(r.html, new RegExp(`id="f-${field}-error"`), field);
      assert.match(r.html, message, field);
      assert.match(r.html, /value="project_path:acme\/shop:ref_type:branch:ref:main"|value="\*"/, 'the subject is kept');
    }
    assert.equal((await admin.get(`/api/v1/projects/${slug}/trust-policies`)).body.trustPolicies.length, 0, 'nothing was written');
  });

  it('a member sees no policy and cannot add one; a post without the CSRF token is refused', async () => {
    await admin.post(`/api/v1/projects/${slug}/trust-policies`, {
      name: 'main',
      issuer: 'https://gitlab.com',
      audience: 'a',
      subject: 'project_path:acme/shop:ref_type:branch:ref:main',
      environment: 'production',
    });
    const m = await signIn('member@example.com', 'another long password');
    const view = await get(m, page);
    assert.equal(view.status, 200);
    assert.match(view.html, /Only project admins see and manage trust policies/);
    assert.ok(!view.html.includes('project_path:acme/shop'), 'a member sees a policy');
    const add = await post(m, page, { name: 'x', issuer: 'https://gitlab.com', audience: 'a', subject: 'project_path:evil', environment: 'production' });
    assert.equal(add.status, 403);
    const s = await signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
    const forged = await post(
      s,
      page,
      { name: 'x', issuer: 'https://gitlab.com', audience: 'a', subject: 'project_path:evil', environment: 'production' },
      'klcsrf_wrong',
    );
    assert.equal(forged.status, 403);
    assert.deepEqual(
      (await admin.get(`/api/v1/projects/${slug}/trust-policies`)).body.trustPolicies.map((p: { name: string }) => p.name),
      ['main'],
    );
  });
});
