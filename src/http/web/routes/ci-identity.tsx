import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError, quote, ValidationError } from '../../../domain/errors.js';
import { errorStatus } from '../../plugins/errors.js';
import { formBody, formErrors, html, pageCtx, queryOf, seeOther, setFlash, type WebDeps } from '../kit.js';
import { CiIdentityPage, ConfirmDeletePolicyPage, parseClaimsText, presetForm, type TrustPolicyForm } from '../pages/settings/ci-identity.js';
import { settingsHref } from '../pages/settings/shell.js';
import type { FormErrors } from '../ui.js';

/** Project Settings → CI identity: the project's trust policies (admins). */
export async function ciIdentityRoutes(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { services, opts } = deps;
  const slugOf = (req: FastifyRequest) => (req.params as { slug: string }).slug;
  const audience = opts.publicUrl ?? 'https://keyloft.example.com';

  async function render(req: FastifyRequest, reply: FastifyReply, extra: { form?: TrustPolicyForm | undefined; errors?: FormErrors; status?: number } = {}) {
    const slug = slugOf(req);
    const project = await services.projects.show(req.actor!, slug);
    const policies = project.role === 'admin' ? await services.trustPolicies.list(req.actor!, slug) : undefined;
    return html(
      reply,
      <CiIdentityPage ctx={pageCtx(req, reply, opts)} project={project} policies={policies} form={extra.form} errors={extra.errors} audience={audience} />,
      extra.status ?? 200,
    );
  }

  app.get('/projects/:slug/settings/ci-identity', async (req, reply) => render(req, reply, { form: presetForm(queryOf(req).preset, audience) }));

  app.post('/projects/:slug/settings/ci-identity', async (req, reply) => {
    const slug = slugOf(req);
    const f = formBody(req);
    const form: TrustPolicyForm = {
      name: f.name ?? '',
      issuer: (f.issuer ?? '').trim(),
      audience: (f.audience ?? '').trim(),
      subject: (f.subject ?? '').trim(),
      environment: f.environment ?? '',
      claims: (f.claims ?? '').slice(0, 20_000),
    };
    try {
      const claims = parseClaimsText(form.claims);
      if (typeof claims === 'string') throw new ValidationError('claims', claims);
      const p = await services.trustPolicies.create(req.actor!, slug, { ...form, claims });
      setFlash(reply, opts, 'trust_policy_added', { name: p.name, environment: p.environment });
      return seeOther(reply, settingsHref(slug, 'ci-identity'));
    } catch (err) {
      const errors = formErrors(err, (field) => (field.startsWith('claims') ? 'claims' : field));
      return render(req, reply, { form, errors, status: errorStatus(err) });
    }
  });

  const policyOf = async (req: FastifyRequest) => {
    const { id } = req.params as { id: string };
    const policy = (await services.trustPolicies.list(req.actor!, slugOf(req))).find((t) => t.id === id);
    if (!policy) throw new NotFoundError(`trust policy ${quote(id)} was not found`, 'id');
    return policy;
  };

  app.get('/projects/:slug/settings/ci-identity/:id/delete', async (req, reply) => {
    const project = await services.projects.show(req.actor!, slugOf(req));
    const policy = await policyOf(req);
    return html(reply, <ConfirmDeletePolicyPage ctx={pageCtx(req, reply, opts)} project={project} policy={policy} />);
  });

  app.post('/projects/:slug/settings/ci-identity/:id/delete', async (req, reply) => {
    const slug = slugOf(req);
    const { id } = req.params as { id: string };
    const removed = await services.trustPolicies.remove(req.actor!, slug, id);
    setFlash(reply, opts, 'trust_policy_removed', { name: removed.name });
    return seeOther(reply, settingsHref(slug, 'ci-identity'));
  });
}
