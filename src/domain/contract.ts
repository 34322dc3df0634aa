/**
 * The API contract: the TypeBox schemas of what the JSON API answers, and their static types.
 * Routes use the schemas (validation, serialisation, the OpenAPI document); services type their
 * return values with the types, and the CLI and the pipeline read replies with them, so the
 * three cannot drift apart. Here, below every layer that uses it (services may not import http/).
 */
import type { Static } from 'typebox';
import { PR_MAX } from './rules.js';
import { Type } from './schema-type.js';

export const ScopeParam = Type.Union([Type.Literal('production'), Type.Literal('preview'), Type.Literal('build')], {
  description: 'production | preview | build',
});
export const Role = Type.Union([Type.Literal('admin'), Type.Literal('member'), Type.Literal('viewer')]);
/** A deployment's environment (rules.ts ENVIRONMENTS). */
export const EnvironmentParam = Type.Union([Type.Literal('production'), Type.Literal('preview')]);
export const Iso = Type.String({ format: 'date-time' });

export const SecretMeta = Type.Object({
  name: Type.String(),
  scope: ScopeParam,
  version: Type.Integer(),
  digest: Type.Union([Type.String(), Type.Null()], { description: 'short keyed digest (HMAC) of the value; null for a deleted secret' }),
  size: Type.Union([Type.Integer(), Type.Null()], { description: 'value size in bytes' }),
  updatedAt: Iso,
  updatedBy: Type.String(),
  deleted: Type.Boolean(),
  status: Type.Union([Type.Literal('deployed'), Type.Literal('pending'), Type.Literal('pending_removal')]),
  applied: Type.Optional(Type.Object({ count: Type.Integer(), of: Type.Integer() })),
  pr: Type.Optional(Type.Integer({ description: 'a per-pull-request preview override: the pull request it is for' })),
  binary: Type.Optional(
    Type.Boolean({
      description:
        'a build secret whose value is binary (not UTF-8 text): keyloft deploy fly cannot pass it as --build-secret; read it as a file (keyloft run --build)',
    }),
  ),
});
/** What a person may see of a secret: never its value. */
export type SecretMeta = Static<typeof SecretMeta>;

export const VersionMeta = Type.Object({
  version: Type.Integer(),
  kind: Type.Union([Type.Literal('set'), Type.Literal('delete'), Type.Literal('restore')]),
  digest: Type.Union([Type.String(), Type.Null()]),
  size: Type.Union([Type.Integer(), Type.Null()]),
  createdAt: Iso,
  createdBy: Type.String(),
});
export type VersionMeta = Static<typeof VersionMeta>;

export const ImportChange = Type.Object({
  name: Type.String(),
  change: Type.Union([Type.Literal('added'), Type.Literal('changed'), Type.Literal('unchanged'), Type.Literal('removed')]),
  digestBefore: Type.Union([Type.String(), Type.Null()]),
  digestAfter: Type.Union([Type.String(), Type.Null()]),
});
/** One name of an import: `removed` only with `replace` (a live secret of the scope that the file does not name; digestAfter null). */
export type ImportChange = Static<typeof ImportChange>;

export const ImportResult = Type.Object({ dryRun: Type.Boolean(), written: Type.Integer(), changes: Type.Array(ImportChange) });
export type ImportResult = Static<typeof ImportResult>;

export const RestoreResult = Type.Object({ secret: SecretMeta, restoredFrom: Type.Integer(), version: Type.Integer() });
/** `POST …/restore`: the old version made current again as a new version (re-sealed on the server). */
export type RestoreResult = Static<typeof RestoreResult>;

const Skipped = Type.Array(Type.Object({ name: Type.String(), reason: Type.Union([Type.Literal('exists'), Type.Literal('unchanged')]) }));
const Copied = Type.Array(Type.Object({ name: Type.String(), change: Type.Union([Type.Literal('added'), Type.Literal('changed')]), digest: Type.String() }));
export const CopyResult = Type.Object({ dryRun: Type.Boolean(), from: ScopeParam, to: ScopeParam, copied: Copied, skipped: Skipped, written: Type.Integer() });
/** `POST …/secrets:copy`: what was (or, in a dry run, would be) written: names and short digests, never values. */
export type CopyResult = Static<typeof CopyResult>;

export const Project = Type.Object({
  slug: Type.String(),
  name: Type.String(),
  flyApp: Type.String(),
  flyPreviewPattern: Type.String(),
  previewBuildSecrets: Type.Boolean({
    description:
      'build secrets for preview deployments (default true); workflows of fork pull requests get them too, so turn it off where forks can open pull requests',
  }),
  role: Role,
  createdAt: Iso,
});
export type Project = Static<typeof Project>;

/** The release grant of a membership: may start deployments, and so read values. Off by default for every role; an admin sets it. */
export const ReleaseGrant = Type.Boolean({ description: 'the release grant: can read values by starting a deployment (admin sets it; default false)' });

export const Member = Type.Object({ email: Type.String(), role: Role, release: ReleaseGrant, addedAt: Iso });
export type Member = Static<typeof Member>;

export const User = Type.Object({ id: Type.String(), email: Type.String(), isAdmin: Type.Boolean(), createdAt: Type.String() });
export type User = Static<typeof User>;

export const ApiToken = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Iso,
  lastUsedAt: Type.Union([Iso, Type.Null()]),
  expiresAt: Type.Union([Iso, Type.Null()], { description: 'when the token stops working; null: never' }),
  readOnly: Type.Boolean({ description: 'a read-only token is refused by every write and start route (403 read_only_token)' }),
});
export type ApiToken = Static<typeof ApiToken>;

/** Who started a deployment: the pipeline (a deploy key, a trust policy) or a person with the release grant. */
export const StartedBy = Type.Object(
  {
    kind: Type.Union([Type.Literal('deploy_key'), Type.Literal('trust_policy'), Type.Literal('person')]),
    name: Type.String({ description: "the deploy key's or trust policy's name, or the person's email" }),
  },
  { description: 'who started the deployment; "person" marks a release by a member with the release grant' },
);
export type StartedBy = Static<typeof StartedBy>;
export type StartedByKind = StartedBy['kind'];

export const Deployment = Type.Object({
  id: Type.String(),
  environment: EnvironmentParam,
  pr: Type.Union([Type.Integer(), Type.Null()]),
  ref: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('expired')]),
  startedBy: StartedBy,
  createdAt: Type.String(),
  expiresAt: Type.String(),
  completedAt: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'why it failed, as completed (masked of its values) or "cancelled by …"; null otherwise' }),
});
export type Deployment = Static<typeof Deployment>;

const PinList = Type.Array(
  Type.Object({
    name: Type.String(),
    version: Type.Integer(),
    override: Type.Optional(Type.Boolean({ description: "from the pull request's own preview override" })),
  }),
);
export const Pinned = Type.Object({
  runtime: PinList,
  build: PinList,
  absent: Type.Optional(
    Type.Array(Type.String(), { description: 'preview, at start: production secrets with no preview value (left out, never a production value)' }),
  ),
  removed: Type.Optional(
    Type.Array(Type.String(), {
      description:
        'at start: runtime secrets the previous succeeded deployment of this app had and this one has not (deleted since): unset them on the platform',
    }),
  ),
  buildSecretsWithheld: Type.Optional(
    Type.Literal(true, { description: 'preview: the project\'s setting "build secrets for preview deployments" is off, so no build secret was pinned' }),
  ),
});
export type Pinned = Static<typeof Pinned>;

export const StartedDeployment = Type.Object({
  id: Type.String(),
  token: Type.String(),
  expiresAt: Type.String(),
  deployment: Deployment,
  startedBy: StartedBy,
  project: Type.Object({ slug: Type.String(), flyApp: Type.String(), flyPreviewPattern: Type.String(), app: Type.String() }),
  pinned: Pinned,
});
/** The reply of `POST /projects/{slug}/deployments`: the deploy token is shown once. */
export type StartedDeployment = Static<typeof StartedDeployment>;

export const DeployKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  createdBy: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});
/** A project's deploy key as listed: never its token (shown once, at creation). */
export type DeployKey = Static<typeof DeployKey>;

export const ChangeSet = Type.Object({
  added: Type.Array(Type.String()),
  changed: Type.Array(Type.Object({ name: Type.String(), digestBefore: Type.String(), digestAfter: Type.String() })),
  removed: Type.Array(Type.String()),
});
/** What changed since the previous succeeded deployment of the same environment (and PR): names and short digests only. */
export type ChangeSet = Static<typeof ChangeSet>;

export const Changes = Type.Object({
  previous: Type.Union([Type.String(), Type.Null()], { description: 'the previous succeeded deployment of the environment (same PR for previews)' }),
  added: ChangeSet.properties.added,
  changed: ChangeSet.properties.changed,
  removed: ChangeSet.properties.removed,
  build: ChangeSet,
});
export type Changes = Static<typeof Changes>;

export const ShownDeployment = Type.Object({ deployment: Deployment, pinned: Pinned, app: Type.String(), changes: Changes });
/** The reply of `GET /projects/{slug}/deployments/{id}`: the deployment, its pins and what changed. */
export type ShownDeployment = Static<typeof ShownDeployment>;

export const Invitation = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Role,
  release: Type.Boolean(),
  createdAt: Iso,
  createdBy: Type.String(),
  expiresAt: Iso,
});
/** A pending invitation as an admin sees it: never its link (shown once, at creation). */
export type Invitation = Static<typeof Invitation>;

export const AuditEvent = Type.Object({
  id: Type.String(),
  at: Type.String(),
  actor: Type.String(),
  ip: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  scope: Type.Union([Type.String(), Type.Null()]),
  name: Type.Union([Type.String(), Type.Null()]),
  version: Type.Union([Type.Integer(), Type.Null()]),
  detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});
/** One audit event: who did what to which name and version; `detail` carries names and counts, never a value. */
export type AuditEvent = Static<typeof AuditEvent>;

export const AuditPage = Type.Object({
  events: Type.Array(AuditEvent),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
  actions: Type.Array(Type.String()),
});
/** The reply of `GET /projects/{slug}/audit`: a page of events, newest first; `nextCursor` continues it. */
export type AuditPage = Static<typeof AuditPage>;

export const TrustPolicy = Type.Object({
  id: Type.String(),
  name: Type.String(),
  issuer: Type.String(),
  audience: Type.String(),
  subject: Type.String(),
  environment: EnvironmentParam,
  claims: Type.Record(Type.String(), Type.String()),
  createdAt: Type.String(),
  createdBy: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});
/** A trust policy: which CI ID tokens may start deployments of which environment. */
export type TrustPolicy = Static<typeof TrustPolicy>;

export const Me = Type.Object({ email: Type.String(), isAdmin: Type.Boolean(), kind: Type.String() });
/** The reply of `GET /me`: who the token or session belongs to. */
export type Me = Static<typeof Me>;

export const StartRequest = Type.Object({
  environment: EnvironmentParam,
  pr: Type.Optional(Type.Integer({ minimum: 1, maximum: PR_MAX })),
  ref: Type.Optional(Type.String({ maxLength: 200 })),
  textBuildSecrets: Type.Optional(
    Type.Boolean({
      description:
        "refuse (422, field textBuildSecrets, nothing started) when a build secret's value is binary: flyctl's --build-secret takes text only (keyloft deploy fly sends true)",
    }),
  ),
});
/** The body of `POST /projects/{slug}/deployments` (a deploy key, or a person with the release grant). */
export type StartRequest = Static<typeof StartRequest>;
