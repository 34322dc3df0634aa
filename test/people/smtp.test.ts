// Invitation e-mail against a real SMTP server started here (smtp-server on 127.0.0.1): the message
// holds the link and nothing secret besides it. With the SMTP server down, the link is still shown
// and the failure is logged without the link's token. Also: the SMTP and SSO settings are checked at start.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../../src/config.js';
import { bootstrap } from '../helpers/client.js';
import { createStore, startServer, type TestServer, type TestStore } from '../helpers/server.js';
import { tokenOf } from './support.js';

const PUBLIC_URL = 'http://keyloft.example.test';

interface Received {
  from: string;
  to: string[];
  data: string;
}

async function startSmtp(): Promise<{ port: number; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  const port = (smtp.server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise<void>((r) => smtp.close(() => r())) };
}

/** A port nothing listens on (bound once, then released). */
async function closedPort(): Promise<number> {
  const s = await startSmtp();
  await s.close();
  return s.port;
}

describe('invitation e-mail (real SMTP server on 127.0.0.1)', () => {
  let store: TestStore;
  let server: TestServer;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  const slug = `mail-${randomBytes(3).toString('hex')}`;

  before(async () => {
    smtp = await startSmtp();
    store = await createStore('sqlite');
    server = await startServer(store, {
      env: { KEYLOFT_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, KEYLOFT_PUBLIC_URL: PUBLIC_URL, KEYLOFT_MAIL_FROM: 'keyloft <no-reply@example.test>' },
    });
  });
  after(async () => {
    await server?.stop();
    await smtp?.close();
    await store?.cleanup();
  });

  it('e-mails the link (built from KEYLOFT_PUBLIC_URL) and nothing secret besides it', async () => {
    const admin = await bootstrap(server);
    assert.equal(
      (await admin.post('/api/v1/projects', { slug, name: 'Mail Project', secrets: [{ name: 'CANARY', scope: 'production', value: 'canary-value-7f3a' }] }))
        .status,
      201,
    );
    const r = await admin.post(`/api/v1/projects/${slug}/invitations`, { email: 'dana@example.com', role: 'member' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.emailed, true);
    assert.ok(r.body.url.startsWith(`${PUBLIC_URL}/invitations/klinv_`), r.body.url);
    const token = tokenOf(r.body.url);
    assert.equal(smtp.received.length, 1);
    const mail = smtp.received[0]!;
    assert.deepEqual(mail.to, ['dana@example.com']);
    assert.equal(mail.from, 'no-reply@example.test');
    const body = mail.data.replace(/=\r?\n/g, '');
    assert.ok(body.includes(r.body.url), 'the link is in the message');
    assert.match(body, /Mail Project/);
    assert.match(body, /as member/);
    // Nothing secret besides the link: no other keyloft token, no value, no admin credential.
    const tokens = body.match(/kl[a-z]+_[A-Za-z0-9_-]+/g) ?? [];
    assert.deepEqual([...new Set(tokens)], [token]);
    assert.ok(!body.includes('canary-value-7f3a'));
    assert.ok(!body.includes(admin.token!));
    // Adding an unknown email as a member sends the invitation too (and answers like an account would).
    const m = await admin.post(`/api/v1/projects/${slug}/members`, { email: 'eve@example.com', role: 'viewer' });
    assert.equal(m.status, 201);
    assert.equal(smtp.received.length, 2);
    assert.deepEqual(smtp.received[1]!.to, ['eve@example.com']);
    assert.ok(!server.output().includes(token), 'the token is in no log line');
  });
});

describe('invitation e-mail with the SMTP server down', () => {
  let store: TestStore;
  let server: TestServer;

  before(async () => {
    store = await createStore('sqlite');
    server = await startServer(store, { env: { KEYLOFT_SMTP_URL: `smtp://127.0.0.1:${await closedPort()}`, KEYLOFT_PUBLIC_URL: PUBLIC_URL } });
  });
  after(async () => {
    await server?.stop();
    await store?.cleanup();
  });

  it('still shows the link, and logs the failure without the token', async () => {
    const admin = await bootstrap(server);
    const slug = `down-${randomBytes(3).toString('hex')}`;
    assert.equal((await admin.post('/api/v1/projects', { slug, name: 'Down' })).status, 201);
    const r = await admin.post(`/api/v1/projects/${slug}/invitations`, { email: 'sam@example.com', role: 'viewer' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.emailed, false);
    const token = tokenOf(r.body.url);
    // The access log names the accept path; the token in it is redacted.
    const accept = await fetch(`${server.url}/api/v1/invitations/${token}/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"password":"short"}',
    });
    assert.equal(accept.status, 400);
    await new Promise((res) => setTimeout(res, 200));
    const out = server.output();
    assert.match(out, /invitation e-mail could not be sent/);
    assert.match(out, /ECONNREFUSED/);
    assert.ok(!out.includes(token), 'no token in the log');
    assert.ok(!out.includes(token.slice(6, 30)), 'no part of the token in the log');
    assert.match(out, /\/api\/v1\/invitations\/\[redacted\]\/accept/);
  });
});

describe('SMTP and SSO settings', () => {
  it('refuse e-mail without KEYLOFT_PUBLIC_URL (links are never built from a Host header), naming the setting', () => {
    assert.throws(() => loadConfig({ KEYLOFT_SMTP_URL: 'smtp://127.0.0.1:25' }), /KEYLOFT_SMTP_URL needs KEYLOFT_PUBLIC_URL/);
    assert.throws(
      () => loadConfig({ KEYLOFT_SMTP_URL: 'http://mail', KEYLOFT_PUBLIC_URL: PUBLIC_URL }),
      /KEYLOFT_SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL/,
    );
    const secretUrl = 'smtp://user:hunter2-secret@mail.example.test:587';
    assert.throws(
      () => loadConfig({ KEYLOFT_SMTP_URL: secretUrl.replace('smtp:', 'smtpx:'), KEYLOFT_PUBLIC_URL: PUBLIC_URL }),
      (e: Error) => !e.message.includes('hunter2-secret'),
    );
    assert.equal(loadConfig({ KEYLOFT_SMTP_URL: secretUrl, KEYLOFT_PUBLIC_URL: PUBLIC_URL }).smtpUrl, secretUrl);
  });

  it('refuse an http issuer unless it is loopback and allowed, a missing client, and SSO-only without SSO', () => {
    const sso = {
      KEYLOFT_PUBLIC_URL: PUBLIC_URL,
      KEYLOFT_SSO_CLIENT_ID: 'keyloft',
      KEYLOFT_SSO_CLIENT_SECRET: 's3cret',
      KEYLOFT_SSO_ALLOWED_DOMAINS: 'example.com',
    };
    assert.throws(() => loadConfig({ ...sso, KEYLOFT_SSO_ISSUER: 'http://127.0.0.1:9999' }), /KEYLOFT_SSO_ISSUER must be an https:\/\/ URL/);
    assert.throws(
      () => loadConfig({ ...sso, KEYLOFT_SSO_ISSUER: 'http://idp.example.test', KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: 'true' }),
      /KEYLOFT_SSO_ISSUER must be an https:\/\/ URL/,
    );
    const ok = loadConfig({ ...sso, KEYLOFT_SSO_ISSUER: 'http://127.0.0.1:9999', KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK: 'true' });
    assert.equal(ok.sso?.redirectUri, `${PUBLIC_URL}/sso/callback`);
    assert.deepEqual(ok.sso?.allowedDomains, ['example.com']);
    assert.throws(() => loadConfig({ ...sso, KEYLOFT_SSO_ISSUER: 'https://idp.example.test', KEYLOFT_SSO_CLIENT_ID: '' }), /KEYLOFT_SSO_CLIENT_ID is required/);
    assert.throws(
      () => loadConfig({ ...sso, KEYLOFT_SSO_ISSUER: 'https://idp.example.test', KEYLOFT_PUBLIC_URL: '' }),
      /KEYLOFT_SSO_ISSUER needs KEYLOFT_PUBLIC_URL/,
    );
    assert.throws(
      () => loadConfig({ ...sso, KEYLOFT_SSO_ISSUER: 'https://idp.example.test', KEYLOFT_SSO_ALLOWED_DOMAINS: 'not a domain' }),
      /KEYLOFT_SSO_ALLOWED_DOMAINS/,
    );
    assert.throws(() => loadConfig({ KEYLOFT_SSO_ONLY: 'true' }), /KEYLOFT_SSO_ONLY=true needs KEYLOFT_SSO_ISSUER/);
    assert.throws(
      () => loadConfig({ ...sso, KEYLOFT_SSO_ISSUER: 'https://idp.example.test', KEYLOFT_SSO_ONLY: 'yes' }),
      /KEYLOFT_SSO_ONLY must be true or false/,
    );
  });
});
