import { KeyloftError, ValidationError } from '../domain/errors.js';
import { globMatch } from '../domain/glob.js';
import { type Environment, parseEnvironment, SLUG_RE, validatePr } from '../domain/rules.js';
import { claimText, pullRequestOf } from '../domain/trust-policy.js';
import { insertAuditEvents } from '../store/audit.repository.js';
import { findProjectBySlug } from '../store/projects.repository.js';
import type { TrustPolicyRow } from '../store/schema.js';
import { candidatePolicies, touchTrustPolicy } from '../store/trust-policies.repository.js';
import type { Actor } from './actor.js';
import { type DeploymentsService, REF_RE, type StartedDeployment } from './deployments.service.js';
import type { BaseDeps } from './deps.js';
import type { IssuerKeys } from './oidc-keys.js';
import { PolicyMismatch, peekToken, type UnverifiedToken, verifyToken } from './oidc-verify.js';

export interface ExchangeInput {
  project: string;
  environment: string;
  pr?: number | undefined;
  ref?: string | undefined;
  idToken: string;
}

/** A request for another pull request than the token's, or for production with a pull-request token. */
export class PrMismatch extends KeyloftError {
  constructor(reason: 'pr_mismatch' | 'pull_request_token', message: string) {
    super('oidc_pr_mismatch', message, 'pr', { reason });
    this.name = 'PrMismatch';
  }
}

/** Refusals written to the audit log: every answer about the token, a policy or the issuer (not input-shape errors). */
const AUDITED_REFUSALS: ReadonlySet<string> = new Set([
  'oidc_token_invalid',
  'oidc_policy_mismatch',
  'oidc_pr_mismatch',
  'oidc_issuer_unavailable',
  'forbidden',
  'not_found',
]);

/** How much of an unverified claim goes into an audit event. */
const AUDIT_CLAIM_MAX = 200;
const cut = (s: string | undefined) => (s === undefined ? null : s.length > AUDIT_CLAIM_MAX ? `${s.slice(0, AUDIT_CLAIM_MAX)}…` : s);

function audienceOf(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

/** Whether a verified token satisfies a policy: its audience, its subject pattern, and every listed claim pattern. */
export function policyAccepts(policy: Pick<TrustPolicyRow, 'audience' | 'subject' | 'claims'>, claims: Record<string, unknown>): boolean {
  if (!audienceOf(claims.aud).includes(policy.audience)) return false;
  if (typeof claims.sub !== 'string' || !globMatch(policy.subject, claims.sub)) return false;
  let wanted: Record<string, unknown>;
  try {
    wanted = JSON.parse(policy.claims) as Record<string, unknown>;
  } catch {
    return false;
  }
  for (const [name, pattern] of Object.entries(wanted)) {
    const have = Object.hasOwn(claims, name) ? claimText(claims[name]) : undefined;
    if (typeof pattern !== 'string' || have === undefined || !globMatch(pattern, have)) return false;
  }
  return true;
}

/**
 * The OpenID Connect exchange: a CI ID token accepted by one of the project's trust policies
 * starts a deployment of that policy's environment, exactly as a deploy key would. Every refusal
 * is audited with the token's (unverified) issuer and subject and a reason; never the token.
 * Only issuers named by the project's policies for that environment are ever fetched.
 */
export function createOidcExchangeService(deps: BaseDeps & { keys: IssuerKeys; deployments: Pick<DeploymentsService, 'start'>; allowHttpLoopback: boolean }) {
  const { db, clock } = deps;

  async function auditRefusal(
    projectId: string | null,
    ip: string | null,
    seen: UnverifiedToken,
    input: ExchangeInput,
    err: KeyloftError,
    verified: boolean,
  ): Promise<void> {
    const reason = (err.details?.reason as string | undefined) ?? err.code;
    await insertAuditEvents(db, [
      {
        at: clock(),
        projectId,
        actor: 'oidc exchange',
        actorIp: ip,
        action: 'oidc.refused',
        detail: {
          code: err.code,
          reason,
          issuer: cut(seen.issuer),
          subject: cut(seen.subject),
          verified,
          environment: input.environment,
          pr: input.pr ?? null,
        },
      },
    ]);
  }

  return {
    async exchange(input: ExchangeInput, ip: string | null): Promise<StartedDeployment> {
      const environment: Environment = parseEnvironment(String(input.environment ?? ''), 'environment');
      const requestedPr = input.pr === undefined || input.pr === null ? undefined : validatePr(input.pr, 'pr');
      if (input.ref !== undefined && input.ref !== '' && !REF_RE.test(input.ref))
        throw new ValidationError('ref', 'ref must be 1–200 characters of letters, digits and ._/@+-');
      const slug = String(input.project ?? '');
      const project = SLUG_RE.test(slug) ? await findProjectBySlug(db, slug) : undefined;
      const seen: UnverifiedToken = { issuer: undefined, subject: undefined, kid: undefined };
      let verified = false;
      try {
        const token = peekToken(String(input.idToken ?? ''), deps.allowHttpLoopback, seen);
        // An unknown project answers like a project whose policies do not trust this issuer: nothing to probe.
        const candidates = project ? await candidatePolicies(db, project.id, environment, token.issuer) : [];
        if (candidates.length === 0) throw new PolicyMismatch();
        const claims = await verifyToken({ keys: deps.keys, clock }, input.idToken, token.issuer, token.kid, [...new Set(candidates.map((c) => c.audience))]);
        verified = true;
        const policy = candidates.find((c) => policyAccepts(c, claims));
        if (!policy || !project) throw new PolicyMismatch();

        const tokenPr = pullRequestOf(claims);
        let pr = requestedPr;
        if (environment === 'production' && tokenPr !== undefined) {
          throw new PrMismatch('pull_request_token', 'a pull-request ID token cannot start a production deployment');
        }
        if (environment === 'preview' && tokenPr !== undefined) {
          if (requestedPr !== undefined && requestedPr !== tokenPr)
            throw new PrMismatch('pr_mismatch', 'pr must be the pull request the ID token was issued for');
          pr = tokenPr;
        }
        const sha = typeof claims.sha === 'string' && REF_RE.test(claims.sha) ? claims.sha : undefined;
        const ref = input.ref || sha;
        // Bound to the token's pull request when it names one: the start service refuses any other.
        const actor: Actor = { kind: 'trust-policy', policyId: policy.id, projectId: project.id, name: policy.name, environment, pr: tokenPr ?? null, ip };
        const started = await deps.deployments.start(actor, project.slug, { environment, pr, ref });
        const now = clock();
        // One commit for both: on SQLite every commit is a sync to disk. Last use is kept to the minute.
        await db.transaction().execute(async (trx) => {
          if (policy.last_used_at === null || now - policy.last_used_at > 60_000) await touchTrustPolicy(trx, policy.id, now);
          await insertAuditEvents(trx, [
            {
              at: now,
              projectId: project.id,
              actor: `trust policy ${policy.name}`,
              actorIp: ip,
              action: 'oidc.accepted',
              detail: { policy: policy.id, issuer: cut(claims.iss), subject: cut(claims.sub), deployment: started.id, environment, pr: pr ?? null },
            },
          ]);
        });
        return started;
      } catch (err) {
        if (err instanceof KeyloftError && AUDITED_REFUSALS.has(err.code)) {
          await auditRefusal(project?.id ?? null, ip, seen, input, err, verified);
        }
        throw err;
      }
    },
  };
}

export type OidcExchangeService = ReturnType<typeof createOidcExchangeService>;
