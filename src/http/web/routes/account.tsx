import type { FastifyInstance } from 'fastify';
import { NotFoundError, quote } from '../../../domain/errors.js';
import { errorStatus } from '../../plugins/errors.js';
import { formBody, formErrors, html, pageCtx, seeOther, setFlash, setShownOnce, takeShownOnce, type WebDeps } from '../kit.js';
import { ConfirmRevokePage, TokensPage } from '../pages/account.js';

export async function accountRoutes(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { services, opts } = deps;

  app.get('/account/tokens', async (req, reply) => {
    const created = takeShownOnce(req, reply, opts, '/account/tokens');
    const tokens = await services.users.listTokens(req.actor!);
    return html(reply, <TokensPage ctx={pageCtx(req, reply, opts)} tokens={tokens} created={created} />);
  });

  // Post/redirect/get: the new token is sealed to this session for the next view of the list, shown once
  // (a refresh creates nothing and no longer shows it); never in a URL.
  app.post('/account/tokens', async (req, reply) => {
    const f = formBody(req);
    const name = (f.name ?? '').trim();
    try {
      const expiresInDays = f.expiresInDays && f.expiresInDays !== 'never' ? Number(f.expiresInDays) : undefined;
      const created = await services.users.createToken(req.actor!, name, { expiresInDays, readOnly: f.readOnly === 'on' });
      setShownOnce(req, reply, opts, '/account/tokens', { name: created.name, token: created.token });
      return seeOther(reply, '/account/tokens');
    } catch (err) {
      const errors = formErrors(err);
      const tokens = await services.users.listTokens(req.actor!);
      return html(reply, <TokensPage ctx={pageCtx(req, reply, opts)} tokens={tokens} name={name} errors={errors} />, errorStatus(err));
    }
  });

  app.get('/account/tokens/:id/revoke', async (req, reply) => {
    const { id } = req.params as { id: string };
    const token = (await services.users.listTokens(req.actor!)).find((t) => t.id === id);
    if (!token) throw new NotFoundError(`token ${quote(id)} was not found`, 'id');
    return html(reply, <ConfirmRevokePage ctx={pageCtx(req, reply, opts)} token={token} />);
  });

  app.post('/account/tokens/:id/revoke', async (req, reply) => {
    const { id } = req.params as { id: string };
    const token = (await services.users.listTokens(req.actor!)).find((t) => t.id === id);
    await services.users.revokeToken(req.actor!, id);
    setFlash(reply, opts, 'token_revoked', { name: token?.name ?? id });
    return seeOther(reply, '/account/tokens');
  });
}
