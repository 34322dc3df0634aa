import type { Project } from '../../../../services/projects.service.js';

export const projectHref = (slug: string) => `/projects/${encodeURIComponent(slug)}`;

export function crumbsFor(p: Project) {
  return [{ label: p.name, href: projectHref(p.slug), badge: p.role }];
}
