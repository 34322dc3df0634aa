import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type KeyloftError, ValidationError } from '../../../domain/errors.js';
import { errorStatus } from '../../plugins/errors.js';
import { linkBase, resetPath } from '../../api/users.routes.js';
import { checkPreCsrf, formBody, formErrors, html, pageCtx, preToken, queryOf, seeOther, setFlash, type WebDeps } from '../kit.js';
import { AccountPage } from '../pages/account-settings.js';
import { ErrorPage } from '../pages/auth.js';
import { ResetPasswordPage } from '../pages/reset.js';
import { UsersPage } from '../pages/users.js';

/** The Users page (instance admins), the Account page, and the signed-out password-reset page. */
export async function userPages(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { services, opts } = deps;
  const admin = services.userAdmin;
  const idOf = (req: FastifyRequest) => String((req.params as { id?: string }).id ?? '').slice(0, 64);

  app.get('/users', async (req, reply) => html(reply, <UsersPage ctx={pageCtx(req, reply, opts)} users={await admin.list(req.actor!)} />));

  const simple: Record<string, (req: FastifyRequest) => Promise<{ email: string }>> = {
    unlock: (req) => admin.unlock(req.actor!, idOf(req)),
    disable: (req) => admin.disable(req.actor!, idOf(req)),
    enable: (req) => admin.enable(req.actor!, idOf(req)),
    'make-admin': (req) => admin.setInstanceAdmin(req.actor!, idOf(req), true),
    'unmake-admin': (req) => admin.setInstanceAdmin(req.actor!, idOf(req), false),
  };
  for (const [action, run] of Object.entries(simple)) {
    app.post(`/users/:id/${action}`, async (req, reply) => {
      const { email } = await run(req);
      setFlash(reply, opts, 'user_changed', { email, action });
      return seeOther(reply, '/users');
    });
  }

  // The link is rendered in the response to the POST itself: shown once, never stored in a cookie.
  app.post('/users/:id/password-reset', async (req, reply) => {
    const r = await admin.createPasswordReset(req.actor!, idOf(req));
    const users = await admin.list(req.actor!);
    const reset = { email: r.email, url: `${linkBase(req, opts.publicUrl)}${resetPath(r.token)}`, expiresAt: r.expiresAt };
    return html(reply, <UsersPage ctx={pageCtx(req, reply, opts)} users={users} reset={reset} />, 201);
  });

  // ---- Account ----
  const accountPage = async (req: FastifyRequest, reply: FastifyReply, errors?: ReturnType<typeof formErrors>, status = 200) =>
    html(reply, <AccountPage ctx={pageCtx(req, reply, opts)} sessions={await admin.listSessions(req.actor!)} {...(errors ? { errors } : {})} />, status);

  app.get('/account', async (req, reply) => accountPage(req, reply));

  app.post('/account/password', { config: { rateLimited: true } }, async (req, reply) => {
    const f = formBody(req);
    try {
      if ((f.new ?? '') !== (f.new2 ?? '')) throw new ValidationError('new2', 'the two new passwords do not match');
      const r = await admin.changePassword(req.actor!, f.current ?? '', f.new ?? '');
      setFlash(reply, opts, 'password_changed', { n: r.sessionsEnded });
      return seeOther(reply, '/account');
    } catch (err) {
      return accountPage(req, reply, formErrors(err), errorStatus(err));
    }
  });

  app.post('/account/sessions/:id/revoke', async (req, reply) => {
    await admin.revokeSession(req.actor!, idOf(req));
    setFlash(reply, opts, 'session_revoked');
    return seeOther(reply, '/account');
  });

  // ---- signed out: set a new password with a one-time link ----
  const invalidLink = (reply: FastifyReply, message: string) =>
    html(reply, <ErrorPage status={410} title="Link not valid" message={message} signedIn={false} />, 410);

  app.get('/reset-password', { config: { webPublic: true } }, async (req, reply) => {
    const token = queryOf(req).token ?? '';
    try {
      const email = await admin.resetLinkEmail(token);
      return html(reply, <ResetPasswordPage pre={preToken(req, reply, opts)} token={token} email={email} />);
    } catch (err) {
      if ((err as KeyloftError).code === 'reset_link_invalid') return invalidLink(reply, (err as KeyloftError).message);
      throw err;
    }
  });

  app.post('/reset-password', { config: { webPublic: true, rateLimited: true } }, async (req, reply) => {
    checkPreCsrf(req, opts.publicUrl);
    const f = formBody(req);
    const token = f.token ?? '';
    let email: string;
    try {
      email = await admin.resetLinkEmail(token);
    } catch (err) {
      if ((err as KeyloftError).code === 'reset_link_invalid') return invalidLink(reply, (err as KeyloftError).message);
      throw err;
    }
    try {
      if ((f.password ?? '') !== (f.password2 ?? '')) throw new ValidationError('password2', 'the two passwords do not match');
      await admin.completePasswordReset(token, f.password ?? '');
      setFlash(reply, opts, 'password_reset');
      return seeOther(reply, '/login');
    } catch (err) {
      if ((err as KeyloftError).code === 'reset_link_invalid') return invalidLink(reply, (err as KeyloftError).message);
      return html(reply, <ResetPasswordPage pre={preToken(req, reply, opts)} token={token} email={email} errors={formErrors(err)} />, errorStatus(err));
    }
  });
}
