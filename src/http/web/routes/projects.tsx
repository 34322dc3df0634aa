import type { FastifyInstance } from 'fastify';
import { KeyloftError } from '../../../domain/errors.js';
import { errorStatus } from '../../plugins/errors.js';
import { PR_MAX, validateProjectName, validateSecretName, validateSlug, valueForScope } from '../../../domain/rules.js';
import type { Deployment } from '../../../services/deployments.service.js';
import { formBody, formErrors, html, pageCtx, queryOf, seeOther, setFlash, textareaValue, type WebDeps } from '../kit.js';
import { DeploymentPage, DeploymentsPage, type NewProjectForm, NewProjectPage, OverviewPage, ProjectsPage } from '../pages/projects.js';
import type { FormErrors } from '../ui.js';

export const INITIAL_ROWS = 3;
const MAX_ROWS = 100;

export function slugify(s: string): string {
  return s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

/** Deployments per page of the Deployments list. */
const DEPLOYMENTS_PAGE = 50;

/** The deployments service, when this server has it (it is a separate module). */
export function deploymentsOf(deps: WebDeps) {
  return (deps.services as Partial<WebDeps['services']>).deployments;
}

export async function projectRoutes(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { services, opts } = deps;

  app.get('/projects', async (req, reply) => {
    const projects = await services.projects.list(req.actor!);
    return html(reply, <ProjectsPage ctx={pageCtx(req, reply, opts)} projects={projects} />);
  });

  const emptyForm = (): NewProjectForm => ({
    name: '',
    slug: '',
    flyApp: '',
    flyPreviewPattern: '',
    rows: Array.from({ length: INITIAL_ROWS }, () => ({ name: '', scope: 'production' })),
  });

  app.get('/projects/new', async (req, reply) => html(reply, <NewProjectPage ctx={pageCtx(req, reply, opts)} form={emptyForm()} returned={false} />));

  app.post('/projects/new', async (req, reply) => {
    const f = formBody(req);
    const n = Math.min(MAX_ROWS, Math.max(1, Number.parseInt(f.rows ?? '', 10) || INITIAL_ROWS));
    const rows = Array.from({ length: n }, (_, i) => ({
      name: (f[`name_${i}`] ?? '').trim(),
      value: textareaValue(f[`value_${i}`]),
      scope: f[`scope_${i}`] === 'preview' ? 'preview' : 'production',
    }));
    const form: NewProjectForm = {
      name: (f.name ?? '').trim(),
      slug: (f.slug ?? '').trim(),
      flyApp: (f.flyApp ?? '').trim(),
      flyPreviewPattern: (f.flyPreviewPattern ?? '').trim(),
      // Values are never sent back to the browser.
      rows: rows.map((r) => ({ name: r.name, scope: r.scope, hadValue: r.value !== '' })),
    };
    if (!form.slug && form.name) form.slug = slugify(form.name);
    const again = (errors: FormErrors | undefined, status: number) =>
      html(reply, <NewProjectPage ctx={pageCtx(req, reply, opts)} form={form} errors={errors} returned={true} />, status);

    if (f._action === 'add_row') {
      form.rows.push({ name: '', scope: 'production' });
      return again(undefined, 200);
    }

    // Check every field first so that all problems are shown at once.
    const errors: FormErrors = { fields: {}, general: [] };
    const check = (field: string, fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        if (!(err instanceof KeyloftError)) throw err;
        errors.fields[field] = err.message;
      }
    };
    check('name', () => validateProjectName(form.name, 'name'));
    check('slug', () => validateSlug(form.slug, 'slug'));
    const given: number[] = [];
    const seen = new Map<string, number>();
    rows.forEach((r, i) => {
      if (!r.name && !r.value) return;
      given.push(i);
      if (!r.name) {
        errors.fields[`name_${i}`] = `secret ${i + 1}: a key is required for this value`;
        return;
      }
      check(`name_${i}`, () => validateSecretName(r.name, `secret ${i + 1} key`));
      const dup = seen.get(`${r.scope}/${r.name}`);
      if (dup !== undefined) errors.fields[`name_${i}`] = `${r.name} is already given in row ${dup + 1} for ${r.scope}`;
      seen.set(`${r.scope}/${r.name}`, i);
      check(`value_${i}`, () => valueForScope(r.scope as 'production' | 'preview', { value: r.value }, `${r.name} `));
    });
    if (Object.keys(errors.fields).length > 0) return again(errors, 400);

    try {
      const created = await services.projects.create(req.actor!, {
        slug: form.slug,
        name: form.name,
        flyApp: form.flyApp || undefined,
        flyPreviewPattern: form.flyPreviewPattern || undefined,
        secrets: given.map((i) => ({ name: rows[i]!.name, scope: rows[i]!.scope, value: rows[i]!.value })),
      });
      setFlash(reply, opts, 'project_created', { name: created.project.name, n: created.secrets });
      return seeOther(reply, `/projects/${encodeURIComponent(created.project.slug)}`);
    } catch (err) {
      const fe = formErrors(err, (field) => {
        const m = /^secrets\[(\d+)\]\.(name|value|valueBase64|scope)$/.exec(field);
        if (!m) return field;
        const row = given[Number(m[1])];
        return row === undefined ? undefined : `${m[2] === 'valueBase64' ? 'value' : m[2]}_${row}`;
      });
      return again(fe, errorStatus(err));
    }
  });

  app.get('/projects/:slug', async (req, reply) => {
    const { slug } = req.params as { slug: string };
    const project = await services.projects.show(req.actor!, slug);
    const secrets = await services.secrets.list(req.actor!, slug);
    const dsvc = deploymentsOf(deps);
    const deployments = dsvc ? await dsvc.list(req.actor!, slug, { limit: 5 }) : undefined;
    return html(reply, <OverviewPage ctx={pageCtx(req, reply, opts)} project={project} secrets={secrets} deployments={deployments} />);
  });

  app.get('/projects/:slug/deployments', async (req, reply) => {
    const { slug } = req.params as { slug: string };
    const q = queryOf(req);
    // ?pr=N: one pull request's preview deployments; ?before=ID: the page after that deployment.
    const pr = /^[1-9]\d{0,9}$/.test(q.pr ?? '') && Number(q.pr) <= PR_MAX ? Number(q.pr) : undefined;
    const env = pr !== undefined ? 'preview' : q.env === 'production' || q.env === 'preview' ? q.env : 'all';
    const before = q.before && q.before.length <= 64 ? q.before : undefined;
    const project = await services.projects.show(req.actor!, slug);
    const dsvc = deploymentsOf(deps);
    let deployments: Deployment[] | undefined;
    let next: string | undefined;
    if (dsvc) {
      const rows = await dsvc.list(req.actor!, slug, { environment: env === 'all' ? undefined : env, pr, before, limit: DEPLOYMENTS_PAGE + 1 });
      deployments = rows.slice(0, DEPLOYMENTS_PAGE);
      if (rows.length > DEPLOYMENTS_PAGE) next = deployments[deployments.length - 1]!.id;
    }
    return html(
      reply,
      <DeploymentsPage ctx={pageCtx(req, reply, opts)} project={project} deployments={deployments} env={env} pr={pr} next={next} firstPage={!before} />,
    );
  });

  app.get('/projects/:slug/deployments/:id', async (req, reply) => {
    const { slug, id } = req.params as { slug: string; id: string };
    const project = await services.projects.show(req.actor!, slug);
    const dsvc = deploymentsOf(deps);
    if (!dsvc) throw new KeyloftError('not_found', 'this server does not track deployments');
    const d = await dsvc.get(req.actor!, slug, id);
    const app = (d as { app?: string }).app;
    return html(
      reply,
      <DeploymentPage ctx={pageCtx(req, reply, opts)} project={project} deployment={d.deployment} pinned={d.pinned} app={app} changes={d.changes} />,
    );
  });

  // Cancel: completes the running deployment as failed ("cancelled by …") and revokes its token.
  app.post('/projects/:slug/deployments/:id/cancel', async (req, reply) => {
    const { slug, id } = req.params as { slug: string; id: string };
    const dsvc = deploymentsOf(deps);
    if (!dsvc) throw new KeyloftError('not_found', 'this server does not track deployments');
    const back = `/projects/${encodeURIComponent(slug)}/deployments/${encodeURIComponent(id)}`;
    try {
      await dsvc.cancel(req.actor!, slug, id);
      setFlash(reply, opts, 'deployment_cancelled', { id });
    } catch (err) {
      // Already finished (409): say so on the deployment's page instead of an error page.
      if (!(err instanceof KeyloftError) || err.code !== 'conflict') throw err;
      setFlash(reply, opts, 'deployment_not_running', { id });
    }
    return seeOther(reply, back);
  });
}
