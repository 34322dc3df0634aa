import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KeyloftError, ValidationError } from '../../../domain/errors.js';
import { deliverInvitation } from '../../api/invitations.routes.js';
import { checkCsrf, SESSION_COOKIE } from '../../plugins/auth.js';
import { errorStatus } from '../../plugins/errors.js';
import { checkPreCsrf, formBody, formErrors, html, preToken, seeOther, setFlash, type WebDeps } from '../kit.js';
import { InvitationPage } from '../pages/invitation.js';
import type { CreatedInvitation } from '../pages/settings/members.js';
import { settingsHref } from '../pages/settings.js';
import type { FormErrors } from '../ui.js';

type RenderMembers = (
  req: FastifyRequest,
  reply: FastifyReply,
  extra?: { form?: { email: string; role: string; release?: boolean }; errors?: FormErrors; status?: number; created?: CreatedInvitation },
) => Promise<FastifyReply>;

/** Members page: invite by email (the link is shown once, in the answer to the POST) and revoke. */
export async function inviteRoutes(app: FastifyInstance, deps: WebDeps, renderMembers: RenderMembers): Promise<void> {
  const { services, opts } = deps;
  const slugOf = (req: FastifyRequest) => (req.params as { slug: string }).slug;

  app.post('/projects/:slug/settings/invitations', async (req, reply) => {
    const slug = slugOf(req);
    const f = formBody(req);
    // The Members page's checkbox sends "yes"; a browser's default for a checkbox without a value is "on".
    const form = { email: (f.email ?? '').trim(), role: f.role ?? 'member', release: f.release === 'yes' || f.release === 'on' };
    try {
      const created = await services.invitations.invite(req.actor!, slug, { email: form.email, role: form.role, release: form.release });
      const sent = await deliverInvitation(services, req, opts.publicUrl, slug, created);
      return renderMembers(req, reply, {
        status: 201,
        created: {
          email: created.invitation.email,
          url: sent.url,
          expiresAt: created.invitation.expiresAt,
          emailed: sent.emailed,
          mailFailed: services.mail.enabled && !sent.emailed,
        },
      });
    } catch (err) {
      return renderMembers(req, reply, { form, errors: formErrors(err), status: errorStatus(err) });
    }
  });

  app.post('/projects/:slug/settings/invitations/:id/revoke', async (req, reply) => {
    const slug = slugOf(req);
    const { id } = req.params as { id: string };
    const pending = (await services.invitations.list(req.actor!, slug)).find((i: { id: string }) => i.id === id);
    await services.invitations.revoke(req.actor!, slug, id);
    setFlash(reply, opts, 'invitation_revoked', { email: pending?.email ?? id });
    return seeOther(reply, settingsHref(slug, 'members'));
  });
}

/** The page behind an invitation link, for signed-out visitors and signed-in people alike. */
export async function invitationPages(app: FastifyInstance, deps: WebDeps, sso: { enabled: boolean; only: boolean }): Promise<void> {
  const { services, opts } = deps;
  const sessionCookie = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: opts.secureCookies };
  const tokenOf = (req: FastifyRequest) => String((req.params as { token: string }).token ?? '');

  async function render(req: FastifyRequest, reply: FastifyReply, errors?: FormErrors, status = 200) {
    const token = tokenOf(req);
    const view = await services.invitations.inspect(token);
    const user = req.actor?.kind === 'user' ? req.actor : undefined;
    return html(
      reply,
      <InvitationPage
        view={view}
        action={`/invitations/${token}`}
        csrf={user ? (req.csrfToken ?? '') : preToken(req, reply, opts)}
        signedInAs={user?.email}
        sso={sso.enabled}
        ssoOnly={sso.only}
        errors={errors}
      />,
      status,
    );
  }

  app.get('/invitations/:token', { config: { webPublic: true } }, async (req, reply) => {
    // The link holds a token: never send it on as a Referer.
    reply.header('referrer-policy', 'no-referrer');
    return render(req, reply);
  });

  app.post('/invitations/:token', { config: { webPublic: true, rateLimited: true } }, async (req, reply) => {
    reply.header('referrer-policy', 'no-referrer');
    const user = req.actor?.kind === 'user' ? req.actor : undefined;
    if (user) {
      if (req.csrfToken === null) throw new KeyloftError('csrf_failed', 'forms need a browser session; sign in again');
      checkCsrf(req, opts.publicUrl);
    } else {
      checkPreCsrf(req, opts.publicUrl);
    }
    const f = formBody(req);
    try {
      if (!user && (f.password ?? '') !== (f.password2 ?? '')) throw new ValidationError('password2', 'the two passwords do not match');
      const r = await services.invitations.accept(tokenOf(req), { password: f.password }, user ?? null, req.ip);
      if (r.session) {
        if (req.sessionToken) await services.users.logout(req.sessionToken);
        reply.setCookie(SESSION_COOKIE, r.session.token, { ...sessionCookie, expires: new Date(r.session.expiresAt) });
      }
      setFlash(reply, opts, 'invitation_accepted', { slug: r.slug, role: r.role });
      return seeOther(reply, `/projects/${encodeURIComponent(r.slug)}`);
    } catch (err) {
      // 410 (unknown, used, revoked, expired) and 403 (another email) go to the error page.
      return render(req, reply, formErrors(err), errorStatus(err));
    }
  });
}
