import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Timestamps are milliseconds since the epoch (bigint columns, read as numbers on both engines). Booleans are 0/1. */
export interface MasterKeyTable {
  id: string;
  public_key: Uint8Array;
  created_at: number;
  retired_at: number | null;
}

export interface ProjectTable {
  id: string;
  slug: string;
  name: string;
  fly_app: string;
  fly_preview_pattern: string;
  digest_key: Uint8Array;
  created_at: number;
  created_by: string;
  /** 1: preview deployments pin the build secrets (the default); 0: they pin none. */
  preview_build_secrets: Generated<number>;
}

export interface ProjectKeyTable {
  id: string;
  project_id: string;
  scope: string;
  public_key: Uint8Array;
  wrapped_private_key: Uint8Array;
  master_key_id: string;
  created_at: number;
  retired_at: number | null;
  /** The key pair's data key (fast form of its values), sealed to the master key `master_key_id`; written by the release role on first use. */
  wrapped_data_key: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>;
}

export interface SecretTable {
  id: string;
  project_id: string;
  scope: string;
  name: string;
  current_version: number;
  deleted: number;
  created_at: number;
  updated_at: number;
  updated_by: string;
}

export interface SecretVersionTable {
  secret_id: string;
  version: number;
  kind: string; // 'set' | 'delete' | 'restore'
  ciphertext: Uint8Array | null;
  key_id: string | null;
  digest: string | null;
  size: number | null;
  /** 1: the value is not UTF-8 text without NUL (a binary build secret); 0: text; null: unknown (written before 2026-11-29) or a tombstone. */
  binary: ColumnType<number | null, number | null | undefined, number | null>;
  /** The fast form: the value under its key pair's data key (AES-256-GCM), written by the release role; null until a release. */
  fast_ciphertext: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>;
  created_at: number;
  created_by: string;
}

export interface UserTable {
  id: string;
  email: string;
  password_hash: string;
  is_admin: number;
  created_at: number;
  /** Set while the account is disabled: no sign-in, sessions and tokens refused. */
  disabled_at: number | null;
  last_login_at: number | null;
}

export interface SessionTable {
  id_hash: string;
  user_id: string;
  csrf_token: string;
  created_at: number;
  expires_at: number;
  last_seen_at: number;
  ip: string | null;
}

export interface ApiTokenTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  expires_at: number | null;
  read_only: number;
}

export interface MembershipTable {
  project_id: string;
  user_id: string;
  role: string;
  created_at: number;
  /** 1: the explicit release grant (may start deployments, and so read values); 0 by default for every role. */
  can_release: Generated<number>;
}

export interface AuditEventTable {
  id: string;
  at: number;
  project_id: string | null;
  actor: string;
  actor_ip: string | null;
  action: string;
  scope: string | null;
  name: string | null;
  version: number | null;
  detail: string | null;
}

export interface LoginThrottleTable {
  key: string;
  failures: number;
  window_start: number;
  locked_until: number;
  /** The account (email) a per-account or per-(account, address) row belongs to; null for per-address rows. */
  account: string | null;
}

export interface LoginAddressTable {
  user_id: string;
  ip: string;
  last_at: number;
}

export interface PasswordResetTable {
  id: string;
  user_id: string;
  token_hash: string;
  created_at: number;
  created_by: string;
  expires_at: number;
  used_at: number | null;
}

export interface SettingTable {
  key: string;
  value: string;
}

export interface DeployKeyTable {
  id: string;
  project_id: string;
  name: string;
  token_hash: string;
  created_at: number;
  created_by: string;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface TrustPolicyTable {
  id: string;
  project_id: string;
  name: string;
  issuer: string;
  audience: string;
  subject: string;
  environment: string;
  /** JSON object { CLAIM: pattern }. */
  claims: string;
  created_at: number;
  created_by: string;
  last_used_at: number | null;
}

export interface DeploymentTable {
  id: string;
  project_id: string;
  environment: string;
  pr: number | null;
  ref: string | null;
  status: string; // running | succeeded | failed | expired
  token_hash: string | null;
  /** The actor's label, as in audit events. */
  started_by: string;
  started_by_kind: string; // deploy_key | trust_policy | person
  started_by_name: string;
  /** The deploy key's, trust policy's or user's id; null on rows from before it was recorded. */
  started_by_id: string | null;
  /** 1: a preview deployment that pinned no build secrets because the project's setting is off. */
  build_withheld: Generated<number>;
  created_at: number;
  expires_at: number;
  completed_at: number | null;
  /** Why it failed (masked, at most 500 characters), or "cancelled by …"; null otherwise. */
  failure_reason: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface DeploymentPinTable {
  deployment_id: string;
  secret_id: string;
  kind: string; // runtime | build
  version: number;
}

export interface PreviewTable {
  project_id: string;
  pr: number;
  opened_at: number;
  closed_at: number | null;
}

/** A dashboard .env import waiting for its Confirm: the text sealed under a key derived from the session's cookie secret. */
export interface PendingImportTable {
  id: string;
  session_hash: string;
  user_id: string;
  project_id: string;
  scope: string;
  replace: number;
  sealed: Uint8Array;
  created_at: number;
  expires_at: number;
}

export interface InvitationTable {
  id: string;
  project_id: string;
  email: string;
  role: string;
  release: number;
  token_hash: string;
  created_at: number;
  created_by: string;
  expires_at: number;
  accepted_at: number | null;
  accepted_by: string | null;
  revoked_at: number | null;
}

/** One "Sign in with SSO" attempt: the hash of the browser-bound cookie it is tied to. */
export interface SsoAttemptTable {
  id_hash: string;
  created_at: number;
  expires_at: number;
}

export interface DB {
  master_keys: MasterKeyTable;
  projects: ProjectTable;
  project_keys: ProjectKeyTable;
  secrets: SecretTable;
  secret_versions: SecretVersionTable;
  users: UserTable;
  sessions: SessionTable;
  api_tokens: ApiTokenTable;
  memberships: MembershipTable;
  audit_events: AuditEventTable;
  login_throttle: LoginThrottleTable;
  login_addresses: LoginAddressTable;
  password_resets: PasswordResetTable;
  settings: SettingTable;
  deploy_keys: DeployKeyTable;
  deployments: DeploymentTable;
  deployment_pins: DeploymentPinTable;
  previews: PreviewTable;
  trust_policies: TrustPolicyTable;
  pending_imports: PendingImportTable;
  invitations: InvitationTable;
  sso_attempts: SsoAttemptTable;
}

export type ProjectRow = Selectable<ProjectTable>;
export type NewProjectRow = Insertable<ProjectTable>;
export type ProjectKeyRow = Selectable<ProjectKeyTable>;
export type SecretRow = Selectable<SecretTable>;
export type SecretVersionRow = Selectable<SecretVersionTable>;
export type UserRow = Selectable<UserTable>;
export type SessionRow = Selectable<SessionTable>;
export type PendingImportRow = Selectable<PendingImportTable>;
export type ApiTokenRow = Selectable<ApiTokenTable>;
export type PasswordResetRow = Selectable<PasswordResetTable>;
export type MembershipRow = Selectable<MembershipTable>;
export type AuditEventRow = Selectable<AuditEventTable>;
export type NewAuditEventRow = Insertable<AuditEventTable>;
export type DeployKeyRow = Selectable<DeployKeyTable>;
export type DeploymentRow = Selectable<DeploymentTable>;
export type NewDeploymentRow = Insertable<DeploymentTable>;
export type TrustPolicyRow = Selectable<TrustPolicyTable>;
export type NewTrustPolicyRow = Insertable<TrustPolicyTable>;
export type DeploymentUpdate = Updateable<DeploymentTable>;
export type InvitationRow = Selectable<InvitationTable>;
