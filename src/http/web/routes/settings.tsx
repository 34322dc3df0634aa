import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KeyloftError, NotFoundError, quote, UnauthenticatedError } from '../../../domain/errors.js';
import { errorStatus } from '../../plugins/errors.js';
import { isScope, type Scope, validateSecretName } from '../../../domain/rules.js';
import { formBody, formErrors, html, pageCtx, queryOf, seeOther, setFlash, setShownOnce, takeShownOnce, textareaValue, type WebDeps } from '../kit.js';
import { CopyReviewPage, ImportReviewPage } from '../pages/review.js';
import {
  AuditPage,
  type CopyForm,
  ConfirmDeletePage,
  ConfirmRemoveMemberPage,
  ConfirmRevokeKeyPage,
  GeneralPage,
  HistoryPage,
  MembersPage,
  type SecretForm,
  type SecretsMode,
  SecretsPage,
  canWrite,
  settingsHref,
} from '../pages/settings.js';
import type { CreatedInvitation } from '../pages/settings/members.js';
import { inviteRoutes } from './invitations.js';
import type { FormErrors } from '../ui.js';
import { deliverInvitation } from '../../api/invitations.routes.js';
import { wrongRole } from '../../api/reseal.routes.js';

type Env = 'all' | 'production' | 'preview';

export async function settingsRoutes(app: FastifyInstance, deps: WebDeps): Promise<void> {
  const { services, opts } = deps;
  const slugOf = (req: FastifyRequest) => (req.params as { slug: string }).slug;

  app.get('/projects/:slug/settings', async (req, reply) => seeOther(reply, settingsHref(slugOf(req), 'general')));

  // ---- General ----
  const deployKeysOf = async (req: FastifyRequest, role: string) => {
    const svc = (services as Partial<typeof services>).deployKeys;
    return svc && role === 'admin' ? svc.list(req.actor!, slugOf(req)) : undefined;
  };

  app.get('/projects/:slug/settings/general', async (req, reply) => {
    const project = await services.projects.show(req.actor!, slugOf(req));
    const createdKey = takeShownOnce(req, reply, opts, settingsHref(project.slug, 'general'));
    const deployKeys = await deployKeysOf(req, project.role);
    return html(reply, <GeneralPage ctx={pageCtx(req, reply, opts)} project={project} deployKeys={deployKeys} createdKey={createdKey} />);
  });

  // Deploy keys (admins): the new key is shown once, on the General page the POST redirects to.
  app.post('/projects/:slug/settings/deploy-keys', async (req, reply) => {
    const slug = slugOf(req);
    const name = (formBody(req).name ?? '').trim();
    const svc = (services as Partial<typeof services>).deployKeys;
    if (!svc) throw new NotFoundError('this server has no deploy keys');
    let created: { name: string; token: string } | undefined;
    let keyErrors: FormErrors | undefined;
    let status = 201;
    try {
      const k = await svc.create(req.actor!, slug, name);
      created = { name: k.name, token: k.token };
      // Post/redirect/get: shown once on the next view of the General page (a refresh creates nothing).
      const page = settingsHref(slug, 'general');
      setShownOnce(req, reply, opts, page, created);
      return seeOther(reply, page);
    } catch (err) {
      keyErrors = formErrors(err, () => 'keyName');
      status = errorStatus(err);
    }
    const project = await services.projects.show(req.actor!, slug);
    const deployKeys = await deployKeysOf(req, project.role);
    return html(
      reply,
      <GeneralPage
        ctx={pageCtx(req, reply, opts)}
        project={project}
        deployKeys={deployKeys}
        createdKey={created}
        keyName={created ? '' : name}
        keyErrors={keyErrors}
      />,
      status,
    );
  });

  app.get('/projects/:slug/settings/deploy-keys/:id/revoke', async (req, reply) => {
    const { id } = req.params as { id: string };
    const project = await services.projects.show(req.actor!, slugOf(req));
    const deployKey = (await deployKeysOf(req, project.role))?.find((k) => k.id === id);
    if (!deployKey) throw new NotFoundError(`deploy key ${quote(id)} was not found`, 'id');
    return html(reply, <ConfirmRevokeKeyPage ctx={pageCtx(req, reply, opts)} project={project} deployKey={deployKey} />);
  });

  app.post('/projects/:slug/settings/deploy-keys/:id/revoke', async (req, reply) => {
    const slug = slugOf(req);
    const { id } = req.params as { id: string };
    const svc = (services as Partial<typeof services>).deployKeys;
    if (!svc) throw new NotFoundError('this server has no deploy keys');
    const name = (await svc.list(req.actor!, slug)).find((k) => k.id === id)?.name ?? id;
    await svc.revoke(req.actor!, slug, id);
    setFlash(reply, opts, 'deploy_key_revoked', { name });
    return seeOther(reply, settingsHref(slug, 'general'));
  });

  app.post('/projects/:slug/settings/general', async (req, reply) => {
    const slug = slugOf(req);
    const f = formBody(req);
    // An unchecked box sends nothing: `previewBuildSecretsShown` says the form carried it, so absent means "no".
    const previewBuildSecrets = f.previewBuildSecretsShown === '1' ? f.previewBuildSecrets === 'yes' : undefined;
    const form = { name: f.name ?? '', flyApp: f.flyApp ?? '', flyPreviewPattern: f.flyPreviewPattern ?? '', previewBuildSecrets };
    try {
      await services.projects.update(req.actor!, slug, form);
      setFlash(reply, opts, 'project_updated');
      return seeOther(reply, settingsHref(slug, 'general'));
    } catch (err) {
      const errors = formErrors(err);
      const project = await services.projects.show(req.actor!, slug);
      const deployKeys = await deployKeysOf(req, project.role);
      return html(
        reply,
        <GeneralPage ctx={pageCtx(req, reply, opts)} project={project} form={form} errors={errors} deployKeys={deployKeys} />,
        errorStatus(err),
      );
    }
  });

  app.post('/projects/:slug/settings/delete', async (req, reply) => {
    const slug = slugOf(req);
    const f = formBody(req);
    try {
      await services.projects.remove(req.actor!, slug, f.confirm ?? '');
      setFlash(reply, opts, 'project_deleted', { slug });
      return seeOther(reply, '/projects');
    } catch (err) {
      const errors = formErrors(err);
      const project = await services.projects.show(req.actor!, slug);
      const deployKeys = await deployKeysOf(req, project.role);
      return html(reply, <GeneralPage ctx={pageCtx(req, reply, opts)} project={project} deleteErrors={errors} deployKeys={deployKeys} />, errorStatus(err));
    }
  });

  // ---- Secrets and Build ----
  async function renderSecrets(
    req: FastifyRequest,
    reply: FastifyReply,
    mode: SecretsMode,
    extra: {
      env?: Env;
      form?: SecretForm;
      errors?: FormErrors;
      importScope?: string;
      importErrors?: FormErrors;
      copyForm?: CopyForm;
      copyErrors?: FormErrors;
      status?: number;
    } = {},
  ) {
    const slug = slugOf(req);
    const project = await services.projects.show(req.actor!, slug);
    const q = queryOf(req);
    const env: Env = mode === 'build' ? 'all' : (extra.env ?? (q.env === 'production' || q.env === 'preview' ? q.env : 'all'));
    const all = await services.secrets.list(req.actor!, slug, mode === 'build' ? 'build' : undefined);
    // ?q=: names containing the text, case-insensitively (like `keyloft secrets list --filter`).
    const nameQ = (q.q ?? '').trim().slice(0, 255);
    const secrets = all
      .filter((s) => (mode === 'build' ? s.scope === 'build' : s.scope !== 'build' && (env === 'all' || s.scope === env)))
      .filter((s) => !nameQ || s.name.toLowerCase().includes(nameQ.toLowerCase()));
    return html(
      reply,
      <SecretsPage
        ctx={pageCtx(req, reply, opts)}
        project={project}
        mode={mode}
        secrets={secrets}
        env={env}
        nameFilter={nameQ}
        form={extra.form}
        errors={extra.errors}
        importScope={extra.importScope}
        importErrors={extra.importErrors}
        canCopy={!!deps.reseal}
        copyForm={extra.copyForm}
        copyErrors={extra.copyErrors}
      />,
      extra.status ?? 200,
    );
  }

  for (const mode of ['secrets', 'build'] as const) {
    const path = `/projects/:slug/settings/${mode}`;
    const scopeFrom = (raw: string | undefined): Scope => (mode === 'build' ? 'build' : raw === 'preview' ? 'preview' : 'production');

    app.get(path, async (req, reply) => renderSecrets(req, reply, mode));

    app.post(path, async (req, reply) => {
      const slug = slugOf(req);
      const f = formBody(req);
      const name = (f.name ?? '').trim();
      const scope = scopeFrom(f.scope);
      const pr = (f.pr ?? '').trim();
      try {
        const r = await services.secrets.upsert(req.actor!, slug, scope, name, { value: textareaValue(f.value) }, pr || undefined);
        setFlash(reply, opts, r.unchanged ? 'secret_unchanged' : r.created ? 'secret_added' : 'secret_updated', {
          name,
          scope: pr ? `${scope}, override for PR #${r.secret.pr}` : scope,
        });
        return seeOther(reply, mode === 'build' ? settingsHref(slug, 'build') : settingsHref(slug, 'secrets'));
      } catch (err) {
        const errors = formErrors(err, (field) => (field === 'valueBase64' ? 'value' : field));
        return renderSecrets(req, reply, mode, { form: { name, scope, pr }, errors, status: errorStatus(err) });
      }
    });

    app.post(`${path}/import`, async (req, reply) => {
      const slug = slugOf(req);
      const f = formBody(req);
      let scope = scopeFrom(f.scope);
      const replace = f.replace === '1';
      try {
        // The web pages run on the session cookie; the pending import is sealed under its secret.
        if (!req.sessionToken) throw new UnauthenticatedError('sign in again to import');
        if (f.confirm !== '1') {
          // Review first: a dry run (with the would-be removals listed), kept sealed on the server; the Confirm form posts only its id.
          const staged = await services.pendingImports.stage(req.actor!, req.sessionToken, slug, scope, textareaValue(f.dotenv), replace);
          const project = await services.projects.show(req.actor!, slug);
          return html(
            reply,
            <ImportReviewPage
              ctx={pageCtx(req, reply, opts)}
              project={project}
              mode={mode}
              scope={scope}
              changes={staged.changes}
              replace={replace}
              pendingId={staged.id}
            />,
          );
        }
        const r = await services.pendingImports.confirm(req.actor!, req.sessionToken, slug, f.pending ?? '');
        scope = r.scope;
        const count = (c: string) => r.changes.filter((x) => x.change === c).length;
        setFlash(reply, opts, 'imported', {
          scope,
          written: r.written,
          added: count('added'),
          changed: count('changed'),
          unchanged: count('unchanged'),
          removed: count('removed'),
        });
        return seeOther(reply, settingsHref(slug, mode));
      } catch (err) {
        // Every import problem belongs to the pasted text (the parser names the line).
        const importErrors = formErrors(err, () => 'dotenv');
        if (importErrors.general.length > 0) {
          importErrors.fields.dotenv = importErrors.general.join('; ');
          importErrors.general = [];
        }
        return renderSecrets(req, reply, mode, { importScope: scope, importErrors, status: errorStatus(err) });
      }
    });

    app.get(`${path}/delete`, async (req, reply) => {
      const slug = slugOf(req);
      const q = queryOf(req);
      const scope = scopeFrom(q.scope);
      const name = validateSecretName(q.name ?? '', 'name');
      const pr = q.pr ? Number(q.pr) : undefined;
      const project = await services.projects.show(req.actor!, slug);
      if (!canWrite(project)) return seeOther(reply, settingsHref(slug, mode));
      const secret = (await services.secrets.list(req.actor!, slug, scope)).find((s) => s.name === name && !s.deleted && s.pr === pr);
      if (!secret) throw new NotFoundError(`secret ${quote(name)} was not found in ${scope}`, 'name');
      return html(reply, <ConfirmDeletePage ctx={pageCtx(req, reply, opts)} project={project} mode={mode} secret={secret} />);
    });

    app.post(`${path}/delete`, async (req, reply) => {
      const slug = slugOf(req);
      const f = formBody(req);
      const scope = scopeFrom(f.scope);
      const name = f.name ?? '';
      const pr = f.pr || undefined;
      await services.secrets.remove(req.actor!, slug, scope, name, pr);
      setFlash(reply, opts, 'secret_deleted', { name, scope: pr ? `${scope}, override for PR #${pr}` : scope });
      return seeOther(reply, settingsHref(slug, mode));
    });
  }

  // Copy between scopes: the first post is a dry run shown for review, the confirmed one writes.
  app.post('/projects/:slug/settings/copy', async (req, reply) => {
    const slug = slugOf(req);
    const f = formBody(req);
    const form: CopyForm = { from: f.from ?? '', to: f.to ?? '', names: (f.names ?? '').trim().slice(0, 20000), overwrite: f.overwrite === '1' };
    const mode: SecretsMode = form.from === 'build' && form.to === 'build' ? 'build' : 'secrets';
    if (!deps.reseal) throw wrongRole(undefined, 'copy secrets');
    const names = form.names ? form.names.split(/[\s,]+/).filter(Boolean) : undefined;
    try {
      const r = await deps.reseal.copy(req.actor!, slug, { from: form.from, to: form.to, names, overwrite: form.overwrite, dryRun: f.confirm !== '1' });
      if (r.dryRun) {
        const project = await services.projects.show(req.actor!, slug);
        return html(reply, <CopyReviewPage ctx={pageCtx(req, reply, opts)} project={project} result={r} names={form.names} overwrite={form.overwrite} />);
      }
      setFlash(reply, opts, 'copied', { from: r.from, to: r.to, written: String(r.written), skipped: String(r.skipped.length) });
      return seeOther(reply, settingsHref(slug, r.to === 'build' ? 'build' : 'secrets'));
    } catch (err) {
      // A key missing from the source is a mistake in the form (the copy form names it), not a missing page.
      if (err instanceof KeyloftError && err.code === 'not_found' && err.field === 'names') {
        return renderSecrets(req, reply, mode, { copyForm: form, copyErrors: { fields: { names: err.message }, general: [] }, status: 400 });
      }
      const copyErrors = formErrors(err, (field) => (field === 'from' || field === 'to' ? field : 'names'));
      return renderSecrets(req, reply, mode, { copyForm: form, copyErrors, status: errorStatus(err) });
    }
  });

  app.get('/projects/:slug/settings/history/:scope/:name', async (req, reply) => {
    const { slug, scope, name } = req.params as { slug: string; scope: string; name: string };
    if (!isScope(scope)) throw new NotFoundError(`no scope ${quote(scope)}`);
    const pr = queryOf(req).pr || undefined;
    const project = await services.projects.show(req.actor!, slug);
    const versions = await services.secrets.versions(req.actor!, slug, scope, name, pr);
    // Restore works on the plain scopes; an override's history is shown without it.
    return html(
      reply,
      <HistoryPage
        ctx={pageCtx(req, reply, opts)}
        project={project}
        scope={scope}
        name={pr ? `${name} (PR #${pr})` : name}
        versions={versions}
        canRestore={!!deps.reseal && !pr}
      />,
    );
  });

  // Restore: the value is opened and re-sealed on the server (roles with the master key only).
  app.post('/projects/:slug/settings/history/:scope/:name/restore', async (req, reply) => {
    const { slug, scope, name } = req.params as { slug: string; scope: string; name: string };
    if (!isScope(scope)) throw new NotFoundError(`no scope ${quote(scope)}`);
    const history = `${settingsHref(slug, 'history')}/${scope}/${encodeURIComponent(name)}`;
    if (!deps.reseal) throw wrongRole(undefined, 'restore a version');
    const version = Number(formBody(req).version ?? '');
    try {
      const r = await deps.reseal.restore(req.actor!, slug, scope, name, version);
      setFlash(reply, opts, 'secret_restored', { name, scope, from: String(r.restoredFrom), version: String(r.version) });
      return seeOther(reply, history);
    } catch (err) {
      const project = await services.projects.show(req.actor!, slug);
      const versions = await services.secrets.versions(req.actor!, slug, scope, name);
      return html(
        reply,
        <HistoryPage
          ctx={pageCtx(req, reply, opts)}
          project={project}
          scope={scope}
          name={name}
          versions={versions}
          canRestore
          errors={formErrors(err, () => undefined)}
        />,
        errorStatus(err),
      );
    }
  });

  // ---- Members ----
  async function renderMembers(
    req: FastifyRequest,
    reply: FastifyReply,
    extra: { form?: { email: string; role: string; release?: boolean }; errors?: FormErrors; status?: number; created?: CreatedInvitation } = {},
  ) {
    const slug = slugOf(req);
    const project = await services.projects.show(req.actor!, slug);
    const members = await services.projects.members(req.actor!, slug);
    const invitations = project.role === 'admin' ? await services.invitations.list(req.actor!, slug) : undefined;
    return html(
      reply,
      <MembersPage
        ctx={pageCtx(req, reply, opts)}
        project={project}
        members={members}
        invitations={invitations}
        created={extra.created}
        form={extra.form}
        errors={extra.errors}
      />,
      extra.status ?? 200,
    );
  }

  app.get('/projects/:slug/settings/members', async (req, reply) => renderMembers(req, reply));
  await inviteRoutes(app, deps, renderMembers);

  app.post('/projects/:slug/settings/members', async (req, reply) => {
    const slug = slugOf(req);
    const f = formBody(req);
    const form = { email: (f.email ?? '').trim(), role: f.role ?? 'member', release: f.release === 'yes' };
    try {
      const r = await services.projects.setMember(req.actor!, slug, form.email, form.role, form.release);
      if (r.invitation) await deliverInvitation(services, req, opts.publicUrl, slug, r.invitation);
      setFlash(reply, opts, r.change === 'added' ? 'member_added' : 'member_updated', {
        email: r.member.email,
        role: r.member.role,
        release: r.member.release ? 'yes' : 'no',
      });
      return seeOther(reply, settingsHref(slug, 'members'));
    } catch (err) {
      return renderMembers(req, reply, { form, errors: formErrors(err), status: errorStatus(err) });
    }
  });

  app.post('/projects/:slug/settings/members/role', async (req, reply) => {
    const slug = slugOf(req);
    const f = formBody(req);
    try {
      // An unchecked box sends nothing: `releaseShown` says the form carried the checkbox, so absent means "off".
      const release = f.releaseShown === '1' ? f.release === 'yes' : undefined;
      const r = await services.projects.setMember(req.actor!, slug, f.email ?? '', f.role ?? '', release);
      setFlash(reply, opts, 'member_updated', { email: r.member.email, role: r.member.role, release: r.member.release ? 'yes' : 'no' });
      return seeOther(reply, settingsHref(slug, 'members'));
    } catch (err) {
      const errors = formErrors(err, () => undefined);
      return renderMembers(req, reply, { errors, status: errorStatus(err) });
    }
  });

  app.get('/projects/:slug/settings/members/remove', async (req, reply) => {
    const slug = slugOf(req);
    const email = (queryOf(req).email ?? '').trim().toLowerCase();
    const project = await services.projects.show(req.actor!, slug);
    if (project.role !== 'admin') return seeOther(reply, settingsHref(slug, 'members'));
    const member = (await services.projects.members(req.actor!, slug)).find((m) => m.email === email);
    if (!member) throw new NotFoundError(`${quote(email)} is not a member of this project`, 'email');
    return html(reply, <ConfirmRemoveMemberPage ctx={pageCtx(req, reply, opts)} project={project} member={member} />);
  });

  app.post('/projects/:slug/settings/members/remove', async (req, reply) => {
    const slug = slugOf(req);
    const f = formBody(req);
    try {
      await services.projects.removeMember(req.actor!, slug, f.email ?? '');
      setFlash(reply, opts, 'member_removed', { email: (f.email ?? '').trim().toLowerCase() });
      return seeOther(reply, settingsHref(slug, 'members'));
    } catch (err) {
      const errors = formErrors(err, () => undefined);
      return renderMembers(req, reply, { errors, status: errorStatus(err) });
    }
  });

  // ---- Audit log ----
  app.get('/projects/:slug/settings/audit', async (req, reply) => {
    const slug = slugOf(req);
    const q = queryOf(req);
    const filter = { action: (q.action ?? '').slice(0, 100), name: (q.name ?? '').trim().slice(0, 255) };
    const before = q.before && q.before.length <= 100 ? q.before : undefined;
    const project = await services.projects.show(req.actor!, slug);
    const page = await services.audit.list(req.actor!, slug, { limit: 25, before, action: filter.action || undefined, name: filter.name || undefined });
    return html(
      reply,
      <AuditPage
        ctx={pageCtx(req, reply, opts)}
        project={project}
        events={page.events}
        actions={page.actions}
        filter={filter}
        nextCursor={page.nextCursor}
        isFirstPage={!before}
      />,
    );
  });
}
