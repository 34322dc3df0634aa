import type { Transaction } from 'kysely';
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
import type { DB } from '../store/schema.js';
import { countAdmins, deleteMembership, findMembership, findRole, listMembers, upsertMembership } from '../store/members.repository.js';
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
    previewBuildSecrets: Number(p.preview_build_secrets) !== 0,
    role: p.role as Role,
    createdAt: new Date(p.created_at).toISOString(),
  };
}

type Deps = BaseDeps & { keys: PublicKeys };

export function createProjectsService(deps: Deps) {
  const { db, clock, keys } = deps;

  /** Writes a membership change and its audit events in the caller's (authorizing) transaction; `mustExist` refuses to add. */
  async function writeMember(
    trx: Transaction<DB>,
    actor: Actor,
    projectId: string,
    userId: string,
    email: string,
    want: { role: Role | undefined; release: boolean | undefined },
    mustExist: boolean,
  ): Promise<{ member: Member; change: 'added' | 'updated' }> {
    const now = clock();
    const by = actorLabel(actor);
    {
      const current = await findMembership(trx, projectId, userId);
      if (!current && mustExist) throw new NotFoundError(`${quote(email)} is not a member of this project`, 'email');
      const role = want.role ?? (current!.role as Role);
      if (current?.role === 'admin' && role !== 'admin' && (await countAdmins(trx, projectId)) <= 1) {
        throw new ConflictError('a project needs at least one admin: make someone else admin first', 'role');
      }
      const change = await upsertMembership(trx, projectId, userId, role, now, want.release);
      const release = want.release ?? current?.canRelease ?? false;
      const events: AuditInput[] = [];
      if (change === 'added') events.push({ at: now, projectId, actor: by, actorIp: actor.ip, action: 'member.added', detail: { email, role, release } });
      else if (role !== current!.role || want.release === undefined || want.release === current!.canRelease) {
        events.push({ at: now, projectId, actor: by, actorIp: actor.ip, action: 'member.role_changed', detail: { email, role } });
      }
      // The grant lets a person read values (by starting a deployment): its every change is an event of its own.
      if (release && (change === 'added' || !current!.canRelease))
        events.push({ at: now, projectId, actor: by, actorIp: actor.ip, action: 'member.release_granted', detail: { email, role } });
      if (!release && change === 'updated' && current!.canRelease)
        events.push({ at: now, projectId, actor: by, actorIp: actor.ip, action: 'member.release_revoked', detail: { email, role } });
      await insertAuditEvents(trx, events);
      const member: Member = { email, role, release, addedAt: new Date(now).toISOString() };
      return { member, change };
    }
  }

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
            await insertSecret(trx, {
              id: s.secretId,
              project_id: id,
              scope: s.scope,
              name: s.name,
              current_version: 1,
              deleted: 0,
              created_at: now,
              updated_at: now,
              updated_by: by,
            });
          }
          await insertVersions(
            trx,
            prepared.map((s) => ({
              secret_id: s.secretId,
              version: 1,
              kind: 'set',
              ciphertext: s.ciphertext,
              key_id: s.keyId,
              digest: s.digest,
              size: s.value.length,
              binary: isTextValue(s.value) ? 0 : 1,
              created_at: now,
              created_by: by,
            })),
          );
          const events: AuditInput[] = [
            { at: now, projectId: id, actor: by, actorIp: actor.ip, action: 'project.created', detail: { slug, secrets: prepared.length } },
            ...prepared.map((s) => ({
              at: now,
              projectId: id,
              actor: by,
              actorIp: actor.ip,
              action: 'secret.created',
              scope: s.scope,
              name: s.name,
              version: 1,
            })),
          ];
          await insertAuditEvents(trx, events);
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError(`a project with slug ${quote(slug)} already exists`, 'slug');
        throw err;
      }
      return {
        project: { slug, name, flyApp, flyPreviewPattern: pattern, previewBuildSecrets: true, role: 'admin', createdAt: new Date(now).toISOString() },
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

    async update(
      actor: Actor,
      slug: string,
      patch: { name?: string | undefined; flyApp?: string | undefined; flyPreviewPattern?: string | undefined; previewBuildSecrets?: boolean | undefined },
    ): Promise<Project> {
      return inProjectTx(db, actor, slug, { role: 'admin', action: 'changing project settings' }, async (trx, p) => {
        const set: { name?: string; fly_app?: string; fly_preview_pattern?: string; preview_build_secrets?: number } = {};
        if (patch.previewBuildSecrets !== undefined) {
          if (typeof patch.previewBuildSecrets !== 'boolean') throw new ValidationError('previewBuildSecrets', 'previewBuildSecrets must be true or false');
          set.preview_build_secrets = patch.previewBuildSecrets ? 1 : 0;
        }
        if (patch.name !== undefined) set.name = validateProjectName(patch.name, 'name');
        if (patch.flyApp !== undefined) set.fly_app = validateFlyApp(patch.flyApp.trim(), 'flyApp');
        if (patch.flyPreviewPattern !== undefined) set.fly_preview_pattern = validatePreviewPattern(patch.flyPreviewPattern.trim(), 'flyPreviewPattern');
        const now = clock();
        await updateProject(trx, p.id, set);
        await insertAuditEvents(trx, [
          {
            at: now,
            projectId: p.id,
            actor: actorLabel(actor),
            actorIp: actor.ip,
            action: 'project.updated',
            detail: { fields: Object.keys(set), ...(set.preview_build_secrets !== undefined ? { previewBuildSecrets: set.preview_build_secrets === 1 } : {}) },
          },
        ]);
        return toProject({ ...p, ...set });
      });
    },

    /** Deletes a project and everything in it (admin only; the slug must be typed again to confirm). */
    async remove(actor: Actor, slug: string, confirmSlug: string): Promise<void> {
      await inProjectTx(db, actor, slug, { role: 'admin', action: 'deleting the project' }, async (trx, p) => {
        if (confirmSlug !== slug) throw new ValidationError('confirm', `type the project slug ${quote(slug)} to confirm deletion`);
        await trx
          .deleteFrom('deployment_pins')
          .where('deployment_id', 'in', trx.selectFrom('deployments').select('id').where('project_id', '=', p.id))
          .execute();
        await trx.deleteFrom('deployments').where('project_id', '=', p.id).execute();
        await trx
          .deleteFrom('secret_versions')
          .where('secret_id', 'in', trx.selectFrom('secrets').select('id').where('project_id', '=', p.id))
          .execute();
        await trx.deleteFrom('secrets').where('project_id', '=', p.id).execute();
        for (const t of ['project_keys', 'memberships', 'deploy_keys', 'previews'] as const) await trx.deleteFrom(t).where('project_id', '=', p.id).execute();
        await deleteProject(trx, p.id);
        await insertAuditEvents(trx, [
          { at: clock(), projectId: null, actor: actorLabel(actor), actorIp: actor.ip, action: 'project.deleted', detail: { slug } },
        ]);
      });
    },

    async members(actor: Actor, slug: string): Promise<Member[]> {
      const p = await authorizeProject(db, actor, slug, 'viewer', 'listing members');
      return (await listMembers(db, p.id)).map((m) => ({
        email: m.email,
        role: m.role as Role,
        release: Number(m.can_release) === 1,
        addedAt: new Date(m.created_at).toISOString(),
      }));
    },

    /**
     * Adds a person by email or changes their role and release grant (admin only). The last admin cannot be demoted.
     * `release` undefined keeps the grant as it is (none for a new member). A grant change is audited on its own.
     * An email without an account gets an invitation instead (carrying the grant), and the answer is the same as
     * for an account (no enumeration): `invitation` carries the one-time link for the caller to e-mail, never for
     * the response.
     */
    async setMember(
      actor: Actor,
      slug: string,
      emailIn: string,
      roleIn: string,
      release?: boolean,
    ): Promise<{ member: Member; change: 'added' | 'updated'; invitation?: { invitation: Invitation; token: string } | undefined }> {
      const email = validateEmail(emailIn, 'email');
      const role = parseRole(roleIn, 'role');
      if (release !== undefined && typeof release !== 'boolean') throw new ValidationError('release', 'release must be true or false');
      const now = clock();
      return inProjectTx(db, actor, slug, { role: 'admin', action: 'managing members' }, async (trx, p) => {
        const u = await findUserByEmail(trx, email);
        const member: Member = { email, role, release: release ?? false, addedAt: new Date(now).toISOString() };
        if (!u) {
          const r = await writeInvitation(trx, { projectId: p.id, email, role, release: release ?? false, by: actorLabel(actor), ip: actor.ip, now });
          return { member, change: r.change, invitation: r.token ? { invitation: r.invitation, token: r.token } : undefined };
        }
        return writeMember(trx, actor, p.id, u.id, email, { role, release }, false);
      });
    },

    /** Changes a member's role and/or release grant (admin only); 404 when the person is not a member. */
    async updateMember(actor: Actor, slug: string, emailIn: string, patch: { role?: string | undefined; release?: boolean | undefined }): Promise<Member> {
      const email = validateEmail(emailIn, 'email');
      const role = patch.role === undefined ? undefined : parseRole(patch.role, 'role');
      if (patch.release !== undefined && typeof patch.release !== 'boolean') throw new ValidationError('release', 'release must be true or false');
      return inProjectTx(db, actor, slug, { role: 'admin', action: 'managing members' }, async (trx, p) => {
        if (role === undefined && patch.release === undefined) throw new ValidationError('role', 'give role, release or both');
        const u = await findUserByEmail(trx, email);
        if (!u) throw new NotFoundError(`${quote(email)} is not a member of this project`, 'email');
        return (await writeMember(trx, actor, p.id, u.id, email, { role, release: patch.release }, true)).member;
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
        await insertAuditEvents(trx, [
          { at: clock(), projectId: p.id, actor: actorLabel(actor), actorIp: actor.ip, action: 'member.removed', detail: { email } },
        ]);
      });
    },
  };
}

export type ProjectsService = ReturnType<typeof createProjectsService>;

/** Re-exported for callers that check errors by class. */
export { KeyloftError };
