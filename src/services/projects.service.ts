import type { Member, Project } from '../domain/contract.js';
import { ConflictError, KeyloftError, NotFoundError, quote, ValidationError } from '../domain/errors.js';
import {
  parseRole,
  parseScope,
  isTextValue,
  type Role,
  SCOPES,
  type Scope,
  validateEmail,
  validateFlyApp,
  validatePreviewPattern,
  validateProjectName,
  validateSecretName,
  validateSlug,
  valueForScope,
} from '../domain/rules.js';
import { newDigestKey, valueDigest } from '../crypto/digest.js';
import { sealValue, valueSealingKey } from '../crypto/sealing.js';
import { newId } from '../crypto/tokens.js';
import { insertAuditEvents, type AuditInput } from '../store/audit.repository.js';
import { isUniqueViolation } from '../store/executor.js';
import { countAdmins, deleteMembership, findRole, listMembers, upsertMembership } from '../store/members.repository.js';
import {
  deleteProject,
  findProjectBySlug,
  insertProject,
  insertProjectKey,
  listProjectsForMember,
  type ProjectWithRole,
  updateProject,
} from '../store/projects.repository.js';
import { insertSecret, insertVersions } from '../store/secrets.repository.js';
import { findUserByEmail } from '../store/users.repository.js';
import { authorizeProject, inProjectTx } from './access.js';
import { type Actor, actorLabel, requireUser } from './actor.js';
import type { BaseDeps } from './deps.js';
import { type Invitation, writeInvitation } from './invitations.service.js';
import type { PublicKeys } from './keys.service.js';

export type { Member, Project };

export interface NewProjectInput {
  slug: string;
  name: string;
  flyApp?: string | undefined;
  flyPreviewPattern?: string | undefined;
  secrets?: ReadonlyArray<{ name: string; scope: string; value?: string | undefined; valueBase64?: string | undefined }> | undefined;
}

export const MAX_INITIAL_SECRETS = 500;

export function toProject(p: ProjectWithRole): Project {
  return {
    slug: p.slug,
    name: p.name,
    flyApp: p.fly_app,
    flyPreviewPattern: p.fly_preview_pattern,
    role: p.role as Role,
    createdAt: new Date(p.created_at).toISOString(),
  };
}

type Deps = BaseDeps & { keys: PublicKeys };

export function createProjectsService(deps: Deps) {
  const { db, clock, keys } = deps;

  return {
    /**
     * Creates a project with its three scope key pairs, the creator as admin, and any initial
     * secrets — all in one transaction. Every input is validated before anything is written.
     */
    async create(actor: Actor, input: NewProjectInput): Promise<{ project: Project; secrets: number }> {
      const user = requireUser(actor);
      const slug = validateSlug(input.slug, 'slug');
      const name = validateProjectName(input.name, 'name');
      const flyApp = validateFlyApp(input.flyApp?.trim() || slug, 'flyApp');
      const pattern = validatePreviewPattern(input.flyPreviewPattern?.trim() || `${slug}-pr-<pr>`, 'flyPreviewPattern');
      const secrets = input.secrets ?? [];
      if (secrets.length > MAX_INITIAL_SECRETS) throw new ValidationError('secrets', `at most ${MAX_INITIAL_SECRETS} secrets can be given at creation`);
      const seen = new Set<string>();
      const validated = secrets.map((s, i) => {
        const scope = parseScope(String(s.scope ?? ''), `secrets[${i}].scope`);
        const n = validateSecretName(String(s.name ?? ''), `secrets[${i}].name`);
        if (seen.has(`${scope}/${n}`)) throw new ValidationError(`secrets[${i}].name`, `secrets[${i}].name ${quote(n)} is given twice for ${scope}`);
        seen.add(`${scope}/${n}`);
        return { scope, name: n, value: valueForScope(scope, { value: s.value, valueBase64: s.valueBase64 }, `secrets[${i}].`) };
      });
      if (await findProjectBySlug(db, slug)) throw new ConflictError(`a project with slug ${quote(slug)} already exists`, 'slug');

      // Keys and seals before BEGIN: the transaction only writes rows.
      const id = newId('prj');
      const digestKey = newDigestKey();
      const now = clock();
      const by = actorLabel(actor);
      const keyRows = await Promise.all(SCOPES.map((scope) => keys.newScopeKeyRow(db, id, scope)));
      const sealers = new Map<Scope, Awaited<ReturnType<typeof valueSealingKey>>>();
      for (const k of keyRows) sealers.set(k.scope as Scope, await valueSealingKey(k.public_key));
      const prepared = await Promise.all(
        validated.map(async (s) => {
          const key = keyRows.find((k) => k.scope === s.scope)!;
          return {
            ...s,
            secretId: newId('sec'),
            keyId: key.id,
            digest: valueDigest(digestKey, s.value),
            ciphertext: await sealValue(sealers.get(s.scope)!, id, s.scope, s.name, 1, s.value),
          };
        }),
      );

      try {
        await db.transaction().execute(async (trx) => {
          await insertProject(trx, { id, slug, name, fly_app: flyApp, fly_preview_pattern: pattern, digest_key: digestKey, created_at: now, created_by: by });
          for (const k of keyRows) await insertProjectKey(trx, k);
          await upsertMembership(trx, id, user.userId, 'admin', now);
          for (const s of prepared) {
            await insertSecret(trx, { id: s.secretId, project_id: id, scope: s.scope, name: s.name, current_version: 1, deleted: 0, created_at: now, updated_at: now, updated_by: by });
          }
          await insertVersions(
            trx,
            prepared.map((s) => ({ secret_id: s.secretId, version: 1, kind: 'set', ciphertext: s.ciphertext, key_id: s.keyId, digest: s.digest, size: s.value.length, binary: isTextValue(s.value) ? 0 : 1, created_at: now, created_by: by })),
          );
          const events: AuditInput[] = [
            { at: now, projectId: id, actor: by, actorIp: actor.ip, action: 'project.created', detail: { slug, secrets: prepared.length } },
            ...prepared.map((s) => ({ at: now, projectId: id, actor: by, actorIp: actor.ip, action: 'secret.created', scope: s.scope, name: s.name, version: 1 })),
          ];
          await insertAuditEvents(trx, events);
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`a project with slug ${quote(slug)} already exists`, 'slug');
        throw err;
      }
      return {
        project: { slug, name, flyApp, flyPreviewPattern: pattern, role: 'admin', createdAt: new Date(now).toISOString() },
        secrets: prepared.length,
      };
    },

    async list(actor: Actor): Promise<Project[]> {
      const user = requireUser(actor);
      return (await listProjectsForMember(db, user.userId)).map(toProject);
    },

    async show(actor: Actor, slug: string): Promise<Project> {
      return toProject(await authorizeProject(db, actor, slug, 'viewer', 'viewing the project'));
    },

    async update(actor: Actor, slug: string, patch: { name?: string | undefined; flyApp?: string | undefined; flyPreviewPattern?: string | undefined }): Promise<Project> {
      return inProjectTx(db, actor, slug, { role: 'admin', action: 'changing project settings' }, async (trx, p) => {
        const set: { name?: string; fly_app?: string; fly_preview_pattern?: string } = {};
        if (patch.name !== undefined) set.name = validateProjectName(patch.name, 'name');
        if (patch.flyApp !== undefined) set.fly_app = validateFlyApp(patch.flyApp.trim(), 'flyApp');
        if (patch.flyPreviewPattern !== undefined) set.fly_preview_pattern = validatePreviewPattern(patch.flyPreviewPattern.trim(), 'flyPreviewPattern');
        const now = clock();
        await updateProject(trx, p.id, set);
        await insertAuditEvents(trx, [{ at: now, projectId: p.id, actor: actorLabel(actor), actorIp: actor.ip, action: 'project.updated', detail: { fields: Object.keys(set) } }]);
        return toProject({ ...p, ...set });
      });
    },

    /** Deletes a project and everything in it (admin only; the slug must be typed again to confirm). */
    async remove(actor: Actor, slug: string, confirmSlug: string): Promise<void> {
      await inProjectTx(db, actor, slug, { role: 'admin', action: 'deleting the project' }, async (trx, p) => {
        if (confirmSlug !== slug) throw new ValidationError('confirm', `type the project slug ${quote(slug)} to confirm deletion`);
        await trx.deleteFrom('deployment_pins').where('deployment_id', 'in', trx.selectFrom('deployments').select('id').where('project_id', '=', p.id)).execute();
        await trx.deleteFrom('deployments').where('project_id', '=', p.id).execute();
        await trx.deleteFrom('secret_versions').where('secret_id', 'in', trx.selectFrom('secrets').select('id').where('project_id', '=', p.id)).execute();
        await trx.deleteFrom('secrets').where('project_id', '=', p.id).execute();
        for (const t of ['project_keys', 'memberships', 'deploy_keys', 'previews'] as const) await trx.deleteFrom(t).where('project_id', '=', p.id).execute();
        await deleteProject(trx, p.id);
        await insertAuditEvents(trx, [{ at: clock(), projectId: null, actor: actorLabel(actor), actorIp: actor.ip, action: 'project.deleted', detail: { slug } }]);
      });
    },

    async members(actor: Actor, slug: string): Promise<Member[]> {
      const p = await authorizeProject(db, actor, slug, 'viewer', 'listing members');
      return (await listMembers(db, p.id)).map((m) => ({ email: m.email, role: m.role as Role, addedAt: new Date(m.created_at).toISOString() }));
    },

    /**
     * Adds a person by email or changes their role (admin only). The last admin cannot be demoted.
     * An email without an account gets an invitation instead, and the answer is the same as for an
     * account (no enumeration): `invitation` carries the one-time link for the caller to e-mail,
     * never for the response.
     */
    async setMember(
      actor: Actor,
      slug: string,
      emailIn: string,
      roleIn: string,
    ): Promise<{ member: Member; change: 'added' | 'updated'; invitation?: { invitation: Invitation; token: string } | undefined }> {
      const email = validateEmail(emailIn, 'email');
      const role = parseRole(roleIn, 'role');
      const now = clock();
      return inProjectTx(db, actor, slug, { role: 'admin', action: 'managing members' }, async (trx, p) => {
        const u = await findUserByEmail(trx, email);
        const member = { email, role, addedAt: new Date(now).toISOString() };
        if (!u) {
          const r = await writeInvitation(trx, { projectId: p.id, email, role, release: false, by: actorLabel(actor), ip: actor.ip, now });
          return { member, change: r.change, invitation: r.token ? { invitation: r.invitation, token: r.token } : undefined };
        }
        const current = await findRole(trx, p.id, u.id);
        if (current === 'admin' && role !== 'admin' && (await countAdmins(trx, p.id)) <= 1) {
          throw new ConflictError('a project needs at least one admin: make someone else admin first', 'role');
        }
        const c = await upsertMembership(trx, p.id, u.id, role, now);
        await insertAuditEvents(trx, [
          { at: now, projectId: p.id, actor: actorLabel(actor), actorIp: actor.ip, action: c === 'added' ? 'member.added' : 'member.role_changed', detail: { email, role } },
        ]);
        return { member, change: c };
      });
    },

    async removeMember(actor: Actor, slug: string, emailIn: string): Promise<void> {
      const email = validateEmail(emailIn, 'email');
      await inProjectTx(db, actor, slug, { role: 'admin', action: 'managing members' }, async (trx, p) => {
        const u = await findUserByEmail(trx, email);
        const current = u ? await findRole(trx, p.id, u.id) : undefined;
        if (!u || !current) throw new NotFoundError(`${quote(email)} is not a member of this project`, 'email');
        if (current === 'admin' && (await countAdmins(trx, p.id)) <= 1) {
          throw new ConflictError('the last admin cannot be removed: make someone else admin first', 'email');
        }
        await deleteMembership(trx, p.id, u.id);
        await insertAuditEvents(trx, [{ at: clock(), projectId: p.id, actor: actorLabel(actor), actorIp: actor.ip, action: 'member.removed', detail: { email } }]);
      });
    },
  };
}

export type ProjectsService = ReturnType<typeof createProjectsService>;

/** Re-exported for callers that check errors by class. */
export { KeyloftError };
