import assert from 'node:assert/strict';
import { type Api, grantRelease } from './client.js';

/** The values of the seeded reseal project; each suite picks its own (random, so scans can find them). */
export interface ResealValues {
  token: string;
  p1: string;
  p2: string;
  prev2: string;
}

/**
 * The project the restore and copy suites (integration, web, CLI) start from: TOKEN, P1 and P2 in
 * production, P2 in preview, and whatever `extra` secrets a suite needs.
 */
export async function seedResealProject(
  admin: Api,
  project: { slug: string; name: string },
  v: ResealValues,
  extra: ReadonlyArray<{ name: string; scope: string; value: string }> = [],
): Promise<void> {
  const c = await admin.post('/api/v1/projects', {
    slug: project.slug,
    name: project.name,
    secrets: [
      { name: 'TOKEN', scope: 'production', value: v.token },
      { name: 'P1', scope: 'production', value: v.p1 },
      { name: 'P2', scope: 'production', value: v.p2 },
      { name: 'P2', scope: 'preview', value: v.prev2 },
      ...extra,
    ],
  });
  assert.equal(c.status, 201, c.text);
  // The suites start deployments and copy production values as the admin: that needs the release grant.
  await grantRelease(admin, project.slug);
}
