import type { ComponentChildren } from 'preact';
import type { Project } from '../../../../services/projects.service.js';
import {
  Document,
  FlashMessage,
  type PageCtx,
  ProjectTabs,
  SettingsNav,
  type SettingsSection,
} from '../../ui.js';
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

export function ReadOnlyNote({ what }: { what: string }) {
  return (
    <div class="alert alert-info" role="note">
      <span class="alert-icon" aria-hidden="true">
        i
      </span>
      <p>You have read access to this project. Ask a project admin for the member role to {what}.</p>
    </div>
  );
}

// ---------------------------------------------------------------- General
