/** Readable names of audit actions for the dashboard; the stable code stays in the API and the filter's value. */
const NAMES: Record<string, string> = {
  'secret.created': 'Secret added',
  'secret.updated': 'Secret changed',
  'secret.deleted': 'Secret deleted',
  'secret.restored': 'Secret restored',
  'project.created': 'Project created',
  'project.updated': 'Project settings changed',
  'project.deleted': 'Project deleted',
  'member.added': 'Member added',
  'member.removed': 'Member removed',
  'member.role_changed': 'Member role changed',
  'deploy_key.created': 'Deploy key created',
  'deploy_key.revoked': 'Deploy key revoked',
  'deployment.started': 'Deployment started',
  'deployment.released': 'Secrets released to a deployment',
  'deployment.succeeded': 'Deployment succeeded',
  'deployment.failed': 'Deployment failed',
  'deployment.expired': 'Deployment expired',
  'deployment.cancelled': 'Deployment cancelled',
  'preview.closed': 'Preview app closed',
  'keys.rotation_started': 'Master key rotation started',
  'keys.rotated': 'Master key rotated',
  'keys.project_rotation_started': 'Project key rotation started',
  'keys.project_rotated': 'Project keys rotated',
  'token.created': 'API token created',
  'token.revoked': 'API token revoked',
  'user.created': 'User created',
  'session.login_failed': 'Sign-in failed',
};

/** "deploy_key.created" → "Deploy key created"; unknown codes are spelled out the same way, so new actions read well too. */
export function auditActionName(code: string): string {
  const known = NAMES[code];
  if (known) return known;
  const words = code.replace(/[._]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
