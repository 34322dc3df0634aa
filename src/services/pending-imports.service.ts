import { KeyloftError, NotFoundError } from '../domain/errors.js';
import type { Scope } from '../domain/rules.js';
import { openPending, sealPending } from '../crypto/pending.js';
import { hashToken, newId } from '../crypto/tokens.js';
import { encodeAad } from '../crypto/suite.js';
import {
  countPendingImportsOfSession,
  deleteExpiredPendingImports,
  deletePendingImportsOfSession,
  insertPendingImport,
  takePendingImport,
} from '../store/pending-imports.repository.js';
import { findProjectBySlug } from '../store/projects.repository.js';
import { type Actor, requireUser } from './actor.js';
import type { BaseDeps } from './deps.js';
import type { ImportChange, SecretsService } from './secrets.service.js';

/** How long a reviewed import waits for its Confirm. */
export const PENDING_IMPORT_TTL_MS = 10 * 60_000;
/** How many reviewed imports one session may hold at once. */
export const PENDING_IMPORTS_PER_SESSION = 20;

type Deps = BaseDeps & { secrets: Pick<SecretsService, 'importSecrets'>; ttlMs?: number };

const utf8 = new TextEncoder();

function aadOf(id: string, projectId: string, scope: string, replace: boolean): Uint8Array {
  return encodeAad('pending-import', [id, projectId, scope, replace ? 1 : 0]);
}

function expired(): NotFoundError {
  return new NotFoundError('the reviewed import has expired, was already confirmed, or belongs to another session; paste the text again', 'pending');
}

/**
 * The dashboard's .env review step without sending the values back to the browser: the pasted text
 * is kept on the server between the review and its Confirm, sealed under a key derived from the
 * session's cookie secret (which the database does not hold) and the pending id, for at most
 * ten minutes, bound to the session (deleted with it), used once.
 */
export function createPendingImportsService(deps: Deps) {
  const { db, clock } = deps;
  const ttl = deps.ttlMs ?? PENDING_IMPORT_TTL_MS;

  return {
    /**
     * Reviews `dotenv` (a dry run: authorization, parsing, per-name changes) and keeps it for
     * `confirm`. Returns the pending id; nothing is written to the secrets.
     */
    async stage(
      actor: Actor,
      sessionSecret: string,
      slug: string,
      scope: Scope,
      dotenv: string,
      replace: boolean,
    ): Promise<{ id: string; changes: ImportChange[]; expiresAt: number }> {
      const user = requireUser(actor);
      const dry = await deps.secrets.importSecrets(actor, slug, scope, { dotenv }, true, true);
      const project = await findProjectBySlug(db, slug);
      if (!project) throw new NotFoundError('project was not found', 'slug');
      const now = clock();
      const sessionHash = hashToken(sessionSecret);
      await deleteExpiredPendingImports(db, now);
      if ((await countPendingImportsOfSession(db, sessionHash)) >= PENDING_IMPORTS_PER_SESSION) {
        throw new KeyloftError(
          'rate_limited',
          `this session already holds ${PENDING_IMPORTS_PER_SESSION} imports waiting for review; confirm one or wait ${Math.round(ttl / 60_000)} minutes`,
          'dotenv',
        );
      }
      const id = newId('pi');
      const text = Buffer.from(utf8.encode(dotenv));
      try {
        const sealed = sealPending(sessionSecret, id, aadOf(id, project.id, scope, replace), text);
        await insertPendingImport(db, {
          id,
          session_hash: sessionHash,
          user_id: user.userId,
          project_id: project.id,
          scope,
          replace: replace ? 1 : 0,
          sealed,
          created_at: now,
          expires_at: now + ttl,
        });
      } finally {
        text.fill(0);
      }
      return { id, changes: dry.changes, expiresAt: now + ttl };
    },

    /**
     * Writes the import reviewed as `id` (once: the row is removed before the write). Only the
     * session that staged it, for the same project, within its lifetime; anything else is 404.
     */
    async confirm(actor: Actor, sessionSecret: string, slug: string, id: string) {
      const user = requireUser(actor);
      if (!/^pi_[A-Za-z0-9_-]{1,64}$/.test(id)) throw expired();
      const now = clock();
      const row = await takePendingImport(db, id, hashToken(sessionSecret), now);
      const project = row ? await findProjectBySlug(db, slug) : undefined;
      if (!row || row.user_id !== user.userId || !project || project.id !== row.project_id) throw expired();
      const replace = Number(row.replace) === 1;
      const text = openPending(sessionSecret, id, aadOf(id, row.project_id, row.scope, replace), new Uint8Array(row.sealed));
      if (!text) throw expired();
      try {
        const r = await deps.secrets.importSecrets(actor, slug, row.scope as Scope, { dotenv: text.toString('utf8') }, false, replace);
        return { ...r, scope: row.scope as Scope };
      } finally {
        text.fill(0);
      }
    },

    /** Removes the session's pending imports (logout; its row's deletion cascades too). */
    async endSession(sessionSecret: string): Promise<number> {
      return deletePendingImportsOfSession(db, hashToken(sessionSecret));
    },

    /** Removes expired pending imports and those of ended sessions. */
    async sweep(): Promise<number> {
      return deleteExpiredPendingImports(db, clock());
    },
  };
}

export type PendingImportsService = ReturnType<typeof createPendingImportsService>;
