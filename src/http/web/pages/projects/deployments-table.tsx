import type { ComponentChildren } from 'preact';
import type { Deployment } from '../../../../services/deployments.service.js';
import { DataTable } from '../../components.js';
import { Badge, type BadgeTone, EmptyState, RelTime, ScopeBadge } from '../../ui.js';
import { projectHref } from './links.js';

export function deploymentTone(status: string): BadgeTone {
  return status === 'succeeded' ? 'green' : status === 'failed' ? 'red' : status === 'running' ? 'blue' : 'gray';
}

/** Who started a deployment, as text: "deploy key ci", "trust policy main", or a person's email. */
export function startedByText(s: Deployment['startedBy']): string {
  return s.kind === 'deploy_key' ? `deploy key ${s.name}` : s.kind === 'trust_policy' ? `trust policy ${s.name}` : s.name;
}

/** The starter; a person-started deployment (a release by a member with the release grant) is marked so it stands out. */
export function StartedByLabel({ startedBy }: { startedBy: Deployment['startedBy'] }) {
  if (startedBy.kind !== 'person') return <>{startedByText(startedBy)}</>;
  return (
    <>
      <Badge tone="amber">person</Badge> {startedBy.name}
    </>
  );
}

export function DeploymentsTable({ slug, deployments, now }: { slug: string; deployments: Deployment[]; now: number }) {
  return (
    <DataTable columns={['Deployment', 'Status', 'Environment', 'Ref', 'Started']}>
      {deployments.map((d) => (
        <tr>
          <td class="primary" data-label="Deployment">
            <a class="mono" href={`${projectHref(slug)}/deployments/${encodeURIComponent(d.id)}`}>
              {d.id}
            </a>
          </td>
          <td data-label="Status">
            <Badge tone={deploymentTone(d.status)} dot>
              {d.status}
            </Badge>
          </td>
          <td data-label="Environment" class="nowrap">
            <ScopeBadge scope={d.environment} />
            {d.pr !== null ? <span class="muted"> PR #{d.pr}</span> : null}
          </td>
          <td data-label="Ref">
            <span class="mono">{d.ref ? d.ref.slice(0, 12) : '—'}</span>
          </td>
          <td data-label="Started">
            <RelTime iso={d.createdAt} now={now} />
            <span class="who" title={startedByText(d.startedBy)} data-started-by={d.startedBy.kind}>
              by <StartedByLabel startedBy={d.startedBy} />
            </span>
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

/** The deployments table, or why there is none: not tracked by this server, or none yet (`children` says how to start one). */
export function DeploymentsList(p: { slug: string; deployments: Deployment[] | undefined; now: number; children: ComponentChildren }) {
  if (p.deployments === undefined) {
    return (
      <EmptyState title="Deployments are not available">
        <p>This keyloft server does not track deployments.</p>
      </EmptyState>
    );
  }
  if (p.deployments.length === 0) return <EmptyState title="No deployments yet">{p.children}</EmptyState>;
  return <DeploymentsTable slug={p.slug} deployments={p.deployments} now={p.now} />;
}
