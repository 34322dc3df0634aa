import type { ComponentChildren } from 'preact';
import type { Project } from '../../../../services/projects.service.js';
import { Document, FlashMessage, type PageCtx, ProjectTabs, SettingsNav, type SettingsSection } from '../../ui.js';
import { crumbsFor, projectHref } from '../projects.js';

/** The two secrets pages: app secrets (production, preview) and build secrets. */
export type SecretsMode = 'secrets' | 'build';

export const settingsHref = (slug: string, section: string) => `${projectHref(slug)}/settings/${section}`;

export const canWrite = (p: Project) => p.role === 'admin' || p.role === 'member';

export function SettingsShell(p: { ctx: PageCtx; project: Project; section: SettingsSection; title: string; children: ComponentChildren }) {
  return (
    <Document
      ctx={{ ...p.ctx, flash: undefined }}
      title={`${p.title} · ${p.project.name}`}
      crumbs={crumbsFor(p.project)}
      tabs={<ProjectTabs slug={p.project.slug} active="settings" />}
    >
      <div class="settings">
        <SettingsNav slug={p.project.slug} active={p.section} />
        <div class="settings-body stack-lg">
          {p.ctx.flash ? <FlashMessage flash={p.ctx.flash} /> : null}
          {p.children}
        </div>
      </div>
    </Document>
  );
}

export function Head({ title, children, actions }: { title: string; children?: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <div class="page-head">
      <div>
        <h1>{title}</h1>
        {children ? <p>{children}</p> : null}
      </div>
      {actions}
    </div>
  );
}

/** Why a write form is missing: the person's role, and which role (from whom) the action needs. */
export function ReadOnlyNote({ role, need, what }: { role: string; need: 'member' | 'admin'; what: string }) {
  const yours = role === 'viewer' ? 'a viewer: you see names, digests and statuses, never values' : `a ${role}`;
  return (
    <div class="alert alert-info" role="note">
      <span class="alert-icon" aria-hidden="true">
        i
      </span>
      <p>
        You are {yours}. To {what}, you need the {need} role{need === 'admin' ? '' : ' (or admin)'}: ask an admin of this project.
      </p>
    </div>
  );
}

// ---------------------------------------------------------------- General
