import type { Deployment } from '../../../../services/deployments.service.js';
import type { Project } from '../../../../services/projects.service.js';
import { EnvFilter } from '../../components.js';
import { Document, type PageCtx, ProjectTabs } from '../../ui.js';
import { DeploymentsList } from './deployments-table.js';
import { crumbsFor, projectHref } from './links.js';

export function DeploymentsPage(p: { ctx: PageCtx; project: Project; deployments: Deployment[] | undefined; env: string }) {
  const { project } = p;
  const base = projectHref(project.slug);
  return (
    <Document ctx={p.ctx} title={`Deployments · ${project.name}`} crumbs={crumbsFor(project)} tabs={<ProjectTabs slug={project.slug} active="deployments" />}>
      <div class="page-head">
        <div>
          <h1>Deployments</h1>
          <p>Each deployment pins the secret versions it started with; only it can read them, only while it runs.</p>
        </div>
        <EnvFilter href={`${base}/deployments`} current={p.env} />
      </div>
      <div class="card">
        <DeploymentsList slug={project.slug} deployments={p.deployments} now={p.ctx.now}>
          <p>
            Start one from CI with <code>keyloft deploy fly --project {project.slug} --env production</code>.
          </p>
        </DeploymentsList>
      </div>
    </Document>
  );
}
