import { SCOPES } from '../../../../domain/rules.js';
import type { Project } from '../../../../services/projects.service.js';
import { Csrf, Field, type FormErrors, type PageCtx } from '../../ui.js';
import { settingsHref } from './shell.js';

export interface CopyForm {
  from: string;
  to: string;
  names: string;
  overwrite: boolean;
}

function ScopeSelect(p: { name: string; selected: string; a: Record<string, unknown> }) {
  return (
    <select {...p.a} name={p.name} class="select-narrow">
      {SCOPES.map((s) => (
        <option value={s} selected={p.selected === s}>
          {s}
        </option>
      ))}
    </select>
  );
}

/** Copy secrets between scopes: reviewed first (a dry run), then confirmed. Values stay on the server. */
export function CopyCard(p: { ctx: PageCtx; project: Project; form: CopyForm; errors: FormErrors | undefined }) {
  const e = p.errors?.fields ?? {};
  return (
    <form method="post" action={settingsHref(p.project.slug, 'copy')} novalidate class="card" aria-labelledby="copy-h">
      <Csrf ctx={p.ctx} />
      <div class="card-head">
        <div>
          <h2 id="copy-h">Copy between environments</h2>
          <p>
            Copies values from one environment to another on the server — nobody sees them. You review the result before anything is written; all or nothing.
          </p>
        </div>
      </div>
      <div class="card-body">
        <div class="secret-form">
          <Field name="copyFrom" label="From" error={e.from}>
            {(a) => <ScopeSelect name="from" selected={p.form.from} a={a} />}
          </Field>
          <Field name="copyTo" label="To" error={e.to}>
            {(a) => <ScopeSelect name="to" selected={p.form.to} a={a} />}
          </Field>
          <Field name="copyNames" label="Keys (optional)" error={e.names} hint="Space- or comma-separated; leave empty to copy all.">
            {(a) => <input {...a} name="names" type="text" class="input-mono" value={p.form.names} autocomplete="off" spellcheck={false} />}
          </Field>
        </div>
        <label class="check">
          <input type="checkbox" name="overwrite" value="1" checked={p.form.overwrite} /> Overwrite keys that already exist in the target
        </label>
      </div>
      <div class="card-foot">
        <span class="muted">Nothing is written until you confirm.</span>
        <button class="btn" type="submit">
          Review copy
        </button>
      </div>
    </form>
  );
}
