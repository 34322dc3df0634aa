import { createHash } from 'node:crypto';

/**
 * The dashboard's only stylesheet and script, served from /assets/ with long cache headers
 * (the URL carries a content hash). The CSP forbids inline script and style, so every bit of
 * presentation lives here. The script is a progressive enhancement: every form works without it.
 */
export const APP_CSS = `
:root {
  --bg: #fafafa;
  --surface: #ffffff;
  --surface-2: #f4f4f5;
  --border: #e4e4e7;
  --border-strong: #d4d4d8;
  --text: #18181b;
  --text-2: #3f3f46;
  --muted: #71717a;
  --primary: #18181b;
  --primary-hover: #3f3f46;
  --link: #2563eb;
  --focus: #2563eb;
  --green: #15803d; --green-bg: #dcfce7; --green-border: #bbf7d0;
  --amber: #a16207; --amber-bg: #fef3c7; --amber-border: #fde68a;
  --red: #b91c1c; --red-bg: #fee2e2; --red-border: #fecaca;
  --blue: #1d4ed8; --blue-bg: #dbeafe; --blue-border: #bfdbfe;
  --violet: #6d28d9; --violet-bg: #ede9fe; --violet-border: #ddd6fe;
  --gray-bg: #f4f4f5;
  --radius: 8px;
  --radius-sm: 6px;
  --shadow: 0 1px 2px rgba(0,0,0,.04), 0 1px 3px rgba(0,0,0,.06);
  --shadow-lg: 0 10px 30px rgba(0,0,0,.12), 0 2px 6px rgba(0,0,0,.06);
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
  color-scheme: light;
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font-family: var(--sans); font-size: 14px; line-height: 1.5; color: var(--text); background: var(--bg); -webkit-font-smoothing: antialiased; }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
:focus-visible { outline: 2px solid var(--focus); outline-offset: 2px; border-radius: 4px; }
h1, h2, h3 { margin: 0; line-height: 1.25; letter-spacing: -0.01em; }
h1 { font-size: 24px; font-weight: 650; }
h2 { font-size: 16px; font-weight: 600; }
h3 { font-size: 14px; font-weight: 600; }
p { margin: 0 0 12px; }
code, kbd, .mono { font-family: var(--mono); font-size: 12.5px; }
code { background: var(--surface-2); border: 1px solid var(--border); border-radius: 4px; padding: 1px 5px; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0,0,0,0); white-space: nowrap; border: 0; }
.skip { position: absolute; left: 12px; top: -48px; background: var(--primary); color: #fff; padding: 8px 12px; border-radius: var(--radius-sm); z-index: 100; }
.skip:focus { top: 12px; }

/* top bar */
.topbar { background: var(--surface); border-bottom: 1px solid var(--border); position: sticky; top: 0; z-index: 20; }
.topbar-link { color: var(--text-2); font-weight: 500; padding: 6px 8px; border-radius: var(--radius-sm); white-space: nowrap; }
.topbar-link:hover { background: var(--surface-2); text-decoration: none; }
.topbar-row { max-width: 1200px; margin: 0 auto; padding: 0 24px; height: 56px; display: flex; align-items: center; gap: 12px; }
.brand { display: inline-flex; align-items: center; gap: 8px; color: var(--text); font-weight: 700; font-size: 15px; letter-spacing: -0.02em; }
.brand:hover { text-decoration: none; }
.brand svg { flex: none; }
.crumbs { display: flex; align-items: center; gap: 8px; min-width: 0; color: var(--muted); }
.crumbs a { color: var(--text); font-weight: 500; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.crumb-sep { color: var(--border-strong); font-size: 18px; }
.role-pill { font-size: 11px; }
.spacer { flex: 1; }
.menu { position: relative; }
.menu > summary { list-style: none; cursor: pointer; display: inline-flex; align-items: center; gap: 8px; padding: 4px 8px 4px 4px; border-radius: 999px; border: 1px solid var(--border); background: var(--surface); }
.menu > summary::-webkit-details-marker { display: none; }
.menu > summary:hover { background: var(--surface-2); }
.avatar { width: 28px; height: 28px; border-radius: 999px; background: linear-gradient(135deg, #6366f1, #ec4899); color: #fff; display: inline-grid; place-items: center; font-weight: 600; font-size: 12px; text-transform: uppercase; }
.menu-email { max-width: 220px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: var(--text-2); }
.menu-panel { position: absolute; right: 0; top: calc(100% + 6px); min-width: 240px; background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius); box-shadow: var(--shadow-lg); padding: 6px; z-index: 30; }
.menu-head { padding: 8px 10px; border-bottom: 1px solid var(--border); margin-bottom: 4px; }
.menu-head .muted { font-size: 12px; }
.menu-item { display: block; width: 100%; text-align: left; padding: 8px 10px; border-radius: var(--radius-sm); color: var(--text); background: none; border: 0; font: inherit; cursor: pointer; }
.menu-item:hover { background: var(--surface-2); text-decoration: none; }
.tabs { max-width: 1200px; margin: 0 auto; padding: 0 16px; display: flex; gap: 4px; overflow-x: auto; scrollbar-width: none; }
.tabs a { display: inline-block; padding: 10px 10px 12px; color: var(--muted); border-bottom: 2px solid transparent; white-space: nowrap; font-weight: 500; }
.tabs a:hover { color: var(--text); text-decoration: none; }
.tabs a[aria-current="page"] { color: var(--text); border-bottom-color: var(--text); }

/* page */
.container { max-width: 1200px; margin: 0 auto; padding: 32px 24px 64px; }
.narrow { max-width: 880px; }
.select-narrow { max-width: 280px; }
.page-head { display: flex; align-items: flex-start; justify-content: space-between; gap: 16px; margin-bottom: 24px; flex-wrap: wrap; }
.page-head p { color: var(--muted); margin: 6px 0 0; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.stack > * + * { margin-top: 16px; }
.stack-lg > * + * { margin-top: 24px; }
.row { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }

/* cards */
.card { background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius); box-shadow: var(--shadow); }
.card-head { padding: 16px 20px; border-bottom: 1px solid var(--border); display: flex; align-items: center; justify-content: space-between; gap: 12px; flex-wrap: wrap; }
.card-head p { margin: 4px 0 0; color: var(--muted); }
.card-body { padding: 20px; }
.card-foot { padding: 12px 20px; border-top: 1px solid var(--border); background: #fcfcfc; border-radius: 0 0 var(--radius) var(--radius); display: flex; align-items: center; justify-content: space-between; gap: 12px; flex-wrap: wrap; }
.card-foot .muted { font-size: 13px; }
.card.highlight { border-color: var(--green-border); box-shadow: 0 0 0 3px #f0fdf4, var(--shadow); }
.card-body h3 { margin-bottom: 8px; }
.card.danger { border-color: var(--red-border); }
.card.danger .card-head h2 { color: var(--red); }

/* grid of project cards */
ul.grid { list-style: none; margin: 0; padding: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 16px; }
.project-card { display: block; padding: 18px 20px; color: var(--text); transition: border-color .15s, box-shadow .15s; }
.project-card:hover { text-decoration: none; border-color: var(--border-strong); box-shadow: var(--shadow-lg); }
.project-card h2 { display: flex; align-items: center; gap: 10px; }
.project-icon { width: 32px; height: 32px; border-radius: 8px; background: var(--surface-2); border: 1px solid var(--border); display: inline-grid; place-items: center; font-weight: 700; color: var(--text-2); flex: none; }
.project-meta { margin-top: 12px; display: flex; flex-direction: column; gap: 4px; color: var(--muted); font-size: 13px; }
.stats { display: grid; grid-template-columns: repeat(3, 1fr); gap: 16px; }
.stat { padding: 16px 20px; }
.stat-label { color: var(--muted); font-size: 13px; display: flex; align-items: center; gap: 6px; }
.stat-value { font-size: 28px; font-weight: 650; margin-top: 4px; letter-spacing: -0.02em; }
.stat-note { font-size: 12px; color: var(--muted); }
.two-col { display: grid; grid-template-columns: 2fr 1fr; gap: 16px; align-items: start; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 8px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }

/* settings layout */
.settings { display: grid; grid-template-columns: 200px 1fr; gap: 32px; align-items: start; }
.sidenav { display: flex; flex-direction: column; gap: 2px; position: sticky; top: 120px; }
.sidenav a { padding: 7px 10px; border-radius: var(--radius-sm); color: var(--muted); font-weight: 500; }
.sidenav a:hover { background: var(--surface-2); color: var(--text); text-decoration: none; }
.sidenav a[aria-current="page"] { background: var(--surface-2); color: var(--text); }
.settings-body { min-width: 0; }

/* forms */
form { margin: 0; }
.field { display: flex; flex-direction: column; gap: 6px; min-width: 0; }
.field + .field { margin-top: 16px; }
label, .label { font-weight: 500; color: var(--text-2); font-size: 13px; }
.hint { color: var(--muted); font-size: 12px; margin: 0; }
input[type=text], input[type=email], input[type=password], input[type=search], input:not([type]), select, textarea {
  font: inherit; color: var(--text); background: var(--surface); border: 1px solid var(--border-strong); border-radius: var(--radius-sm);
  padding: 8px 10px; width: 100%; min-height: 36px; transition: border-color .15s, box-shadow .15s;
}
textarea { font-family: var(--mono); font-size: 12.5px; resize: vertical; min-height: 38px; line-height: 1.45; }
select { appearance: none; background-image: linear-gradient(45deg, transparent 50%, var(--muted) 50%), linear-gradient(135deg, var(--muted) 50%, transparent 50%); background-position: calc(100% - 15px) 50%, calc(100% - 10px) 50%; background-size: 5px 5px; background-repeat: no-repeat; padding-right: 28px; }
input:focus, select:focus, textarea:focus { outline: none; border-color: var(--focus); box-shadow: 0 0 0 3px rgba(37,99,235,.18); }
input[aria-invalid="true"], select[aria-invalid="true"], textarea[aria-invalid="true"] { border-color: var(--red); }
input[aria-invalid="true"]:focus, textarea[aria-invalid="true"]:focus { box-shadow: 0 0 0 3px rgba(185,28,28,.15); }
input[readonly] { background: var(--surface-2); }
.input-mono { font-family: var(--mono); font-size: 12.5px; }
.field-error { color: var(--red); font-size: 12.5px; margin: 0; display: flex; gap: 6px; align-items: flex-start; }
.field-error::before { content: "!"; flex: none; display: inline-grid; place-items: center; width: 15px; height: 15px; border-radius: 999px; background: var(--red); color: #fff; font-size: 10px; font-weight: 700; margin-top: 2px; }
.form-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.form-grid .field + .field { margin-top: 0; }
.form-actions { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-top: 20px; }
.secret-form { display: grid; grid-template-columns: minmax(160px, 1fr) minmax(220px, 2fr) 160px auto; gap: 12px; align-items: start; }
.secret-form .field + .field { margin-top: 0; }
.secret-form.with-pr { grid-template-columns: minmax(160px, 1fr) minmax(220px, 2fr) 140px 130px auto; }
.secret-form .submit-cell { padding-top: 25px; }
.secret-rows { display: flex; flex-direction: column; gap: 12px; }
.secret-row { display: grid; grid-template-columns: minmax(180px, 1.2fr) minmax(220px, 2fr) 150px; gap: 12px; align-items: start; padding: 12px; border: 1px solid var(--border); border-radius: var(--radius); background: #fcfcfc; }
.secret-row .field + .field { margin-top: 0; }
.row-num { font-size: 11px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; grid-column: 1 / -1; margin-bottom: -6px; }
.inline-form { display: inline-flex; gap: 8px; align-items: center; }
.inline-form select { width: auto; min-width: 110px; padding-top: 5px; padding-bottom: 5px; min-height: 32px; }
fieldset { border: 0; padding: 0; margin: 0; min-width: 0; }
legend { padding: 0; font-weight: 600; margin-bottom: 8px; }
.check { display: flex; gap: 8px; align-items: flex-start; }
.check input { margin-top: 3px; }

/* buttons */
.btn { display: inline-flex; align-items: center; justify-content: center; gap: 6px; font: inherit; font-weight: 500; font-size: 13.5px; padding: 0 14px; height: 36px; border-radius: var(--radius-sm); border: 1px solid var(--border-strong); background: var(--surface); color: var(--text); cursor: pointer; white-space: nowrap; transition: background .15s, border-color .15s; }
.btn:hover { background: var(--surface-2); text-decoration: none; }
.btn-primary { background: var(--primary); border-color: var(--primary); color: #fff; }
.btn-primary:hover { background: var(--primary-hover); border-color: var(--primary-hover); }
.btn-danger { background: var(--red); border-color: var(--red); color: #fff; }
.btn-danger:hover { background: #991b1b; border-color: #991b1b; }
.btn-danger-ghost { color: var(--red); border-color: var(--border); }
.btn-danger-ghost:hover { background: var(--red-bg); border-color: var(--red-border); }
.btn-ghost { border-color: transparent; background: transparent; }
.btn-sm { height: 30px; padding: 0 10px; font-size: 12.5px; }
.btn-block { width: 100%; }

/* alerts */
.alert { border-radius: var(--radius); padding: 12px 14px; border: 1px solid; display: flex; gap: 10px; align-items: flex-start; margin-bottom: 20px; }
.alert p { margin: 0; }
.stack > .alert, .stack-lg > .alert { margin-bottom: 0; }
.alert ul { margin: 6px 0 0; padding-left: 18px; }
.alert a { color: inherit; text-decoration: underline; }
.alert-icon { flex: none; width: 18px; height: 18px; border-radius: 999px; display: inline-grid; place-items: center; font-size: 11px; font-weight: 700; color: #fff; margin-top: 1px; }
.alert-success { background: #f0fdf4; border-color: var(--green-border); color: #14532d; }
.alert-success .alert-icon { background: var(--green); }
.alert-error { background: #fef2f2; border-color: var(--red-border); color: #7f1d1d; }
.alert-error .alert-icon { background: var(--red); }
.alert-info { background: #eff6ff; border-color: var(--blue-border); color: #1e3a8a; }
.alert-info .alert-icon { background: var(--blue); }
.alert-warn { background: #fffbeb; border-color: var(--amber-border); color: #78350f; }
.alert-warn .alert-icon { background: var(--amber); }

/* badges */
.badge { display: inline-flex; align-items: center; gap: 5px; height: 22px; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 500; border: 1px solid var(--border); background: var(--gray-bg); color: var(--text-2); white-space: nowrap; }
.badge .dot { width: 6px; height: 6px; border-radius: 999px; background: currentColor; }
.badge-green { background: var(--green-bg); border-color: var(--green-border); color: var(--green); }
.badge-amber { background: var(--amber-bg); border-color: var(--amber-border); color: var(--amber); }
.badge-red { background: var(--red-bg); border-color: var(--red-border); color: var(--red); }
.badge-blue { background: var(--blue-bg); border-color: var(--blue-border); color: var(--blue); }
.badge-violet { background: var(--violet-bg); border-color: var(--violet-border); color: var(--violet); }
.badge-outline { background: var(--surface); }

/* tables */
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-weight: 500; color: var(--muted); font-size: 12px; padding: 10px 14px; background: #fcfcfc; border-bottom: 1px solid var(--border); white-space: nowrap; }
td { padding: 12px 14px; border-bottom: 1px solid var(--border); vertical-align: middle; }
tbody tr:last-child td { border-bottom: 0; }
tbody tr:hover td { background: #fcfcfd; }
td.actions { text-align: right; white-space: nowrap; }
td.actions > * + * { margin-left: 6px; }
.key { font-family: var(--mono); font-weight: 600; font-size: 13px; white-space: nowrap; }
td time, .nowrap { white-space: nowrap; }
.key-meta { display: flex; align-items: center; gap: 6px; margin-top: 4px; color: var(--muted); font-size: 12px; }
.key-meta .badge { height: 20px; font-size: 11.5px; }
.digest { font-family: var(--mono); font-size: 12px; color: var(--text-2); background: var(--surface-2); border: 1px solid var(--border); border-radius: 4px; padding: 1px 6px; }
.who { display: block; color: var(--muted); font-size: 12px; max-width: 240px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.status-note { display: block; color: var(--muted); font-size: 12px; margin-top: 3px; }
.toolbar { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.segmented { display: inline-flex; border: 1px solid var(--border-strong); border-radius: var(--radius-sm); overflow: hidden; background: var(--surface); }
.segmented a { padding: 5px 12px; color: var(--text-2); font-size: 13px; border-right: 1px solid var(--border); }
.segmented a:last-child { border-right: 0; }
.segmented a:hover { background: var(--surface-2); text-decoration: none; }
.segmented a[aria-current="true"] { background: var(--primary); color: #fff; }
.empty { text-align: center; padding: 40px 20px; color: var(--muted); }
.empty h3 { color: var(--text); margin-bottom: 6px; font-size: 15px; }
.empty .btn { margin-top: 12px; }
.pager { display: flex; justify-content: space-between; align-items: center; gap: 12px; }
.token-box { display: flex; gap: 8px; align-items: stretch; }
.token-box input { font-family: var(--mono); font-size: 13px; }
.pinned-list { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 6px; }
.pinned-list li { font-family: var(--mono); font-size: 12px; background: var(--surface-2); border: 1px solid var(--border); border-radius: 4px; padding: 2px 8px; }
.detail { font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
details.disclosure > summary { cursor: pointer; color: var(--link); font-weight: 500; }
details.disclosure[open] > summary { margin-bottom: 12px; }

/* auth pages */
.auth { min-height: 100vh; display: grid; place-items: center; padding: 24px 16px; background: radial-gradient(1200px 600px at 50% -10%, #eef2ff 0%, transparent 60%), var(--bg); }
.auth-card { width: 100%; max-width: 400px; }
.auth-brand { display: flex; justify-content: center; margin-bottom: 24px; }
.auth-card .card-body { padding: 28px; }
.auth-card h1 { font-size: 20px; margin-bottom: 6px; }
.auth-card .lead { color: var(--muted); margin-bottom: 20px; }
.auth-foot { text-align: center; margin-top: 16px; color: var(--muted); font-size: 13px; }

@media (max-width: 900px) {
  .settings { grid-template-columns: 1fr; gap: 16px; }
  .sidenav { position: static; flex-direction: row; flex-wrap: wrap; gap: 0; padding-bottom: 4px; border-bottom: 1px solid var(--border); scrollbar-width: none; }
  .sidenav a { white-space: nowrap; padding: 6px 8px; font-size: 13px; }
  .two-col { grid-template-columns: 1fr; }
  .secret-form { grid-template-columns: 1fr 1fr; }
  .secret-form .field-value { grid-column: 1 / -1; grid-row: 2; }
  .secret-form .submit-cell { padding-top: 0; grid-column: 1 / -1; }
}
@media (max-width: 640px) {
  body { font-size: 14px; }
  .topbar-row { padding: 0 12px; gap: 8px; }
  .menu-email { display: none; }
  .menu > summary { padding: 2px; }
  .brand-name { display: none; }
  .container { padding: 20px 12px 48px; }
  h1 { font-size: 20px; }
  .stats { grid-template-columns: 1fr; gap: 8px; }
  .stat { padding: 12px 16px; display: flex; justify-content: space-between; align-items: center; }
  .stat-value { font-size: 22px; margin: 0; }
  .form-grid, .secret-form, .secret-row { grid-template-columns: 1fr; }
  .secret-form .field-value, .secret-form .submit-cell { grid-column: auto; grid-row: auto; }
  .card-body { padding: 16px; }
  .card-head, .card-foot { padding: 12px 16px; }
  .grid { grid-template-columns: 1fr; }
  .token-box { flex-direction: column; }
  /* tables become stacked lists: a label column and a value column per cell */
  table.responsive thead { display: none; }
  table.responsive, table.responsive tbody, table.responsive tr { display: block; width: 100%; }
  table.responsive tr { padding: 12px 16px; border-bottom: 1px solid var(--border); }
  table.responsive tbody tr:last-child { border-bottom: 0; }
  table.responsive td { border: 0; padding: 3px 0; display: grid; grid-template-columns: 96px minmax(0, 1fr); column-gap: 12px; justify-items: start; align-items: center; white-space: normal; }
  table.responsive td::before { content: attr(data-label); color: var(--muted); font-size: 12px; grid-column: 1; grid-row: 1 / span 6; align-self: start; padding-top: 2px; }
  table.responsive td.primary { display: block; font-size: 14px; padding-bottom: 6px; }
  table.responsive td.primary::before { display: none; }
  table.responsive td.actions { display: flex; justify-content: flex-end; flex-wrap: wrap; gap: 6px; padding-top: 8px; }
  table.responsive td.actions > * + * { margin-left: 0; }
  table.responsive td.actions::before { display: none; }
  table.responsive .key { white-space: normal; overflow-wrap: anywhere; }
  table.responsive .who { max-width: 100%; white-space: normal; }
  table.responsive .status-note { margin-top: 2px; }
  tbody tr:hover td { background: transparent; }
  .pager { flex-direction: column; align-items: stretch; }
}
`;

/**
 * Progressive enhancements only (the pages work without them):
 * slug suggested from the project name, client-side "add another row", copy buttons.
 * Reads no secret values: there are none in any page.
 */
export const APP_JS = `
(function () {
  'use strict';
  function slugify(s) {
    return s.toLowerCase().normalize('NFKD').replace(/[\\u0300-\\u036f]/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  }
  var name = document.getElementById('project-name');
  var slug = document.getElementById('project-slug');
  var fly = document.getElementById('project-flyApp');
  if (name && slug) {
    var touched = slug.value !== '' && slug.value !== slugify(name.value);
    slug.addEventListener('input', function () { touched = slug.value !== ''; });
    name.addEventListener('input', function () {
      if (touched) return;
      slug.value = slugify(name.value);
      if (fly) fly.placeholder = slug.value || 'same as the slug';
    });
    slug.addEventListener('input', function () { if (fly) fly.placeholder = slug.value || 'same as the slug'; });
  }

  var rows = document.getElementById('secret-rows');
  var add = document.getElementById('add-row');
  var count = document.getElementById('row-count');
  if (rows && add && count) {
    add.addEventListener('click', function (ev) {
      ev.preventDefault();
      var last = rows.querySelector('.secret-row:last-of-type');
      if (!last) return;
      var i = Number(count.value);
      var row = last.cloneNode(true);
      row.querySelectorAll('[id],[for],[name],[aria-describedby]').forEach(function (el) {
        ['id', 'for', 'name', 'aria-describedby'].forEach(function (a) {
          var v = el.getAttribute(a);
          if (v) el.setAttribute(a, v.replace(/_\\d+(\\b|$)/g, '_' + i).replace(/-\\d+(\\b|$)/g, '-' + i));
        });
      });
      row.querySelectorAll('.field-error').forEach(function (el) { el.remove(); });
      row.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
      row.querySelectorAll('input, textarea').forEach(function (el) { el.value = ''; });
      var num = row.querySelector('.row-num');
      if (num) num.textContent = 'Secret ' + (i + 1);
      rows.appendChild(row);
      count.value = String(i + 1);
      var first = row.querySelector('input');
      if (first) first.focus();
    });
  }

  document.querySelectorAll('[data-copy-target]').forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener('click', function () {
      var el = document.getElementById(btn.getAttribute('data-copy-target'));
      if (!el) return;
      var done = function () { var t = btn.textContent; btn.textContent = 'Copied'; setTimeout(function () { btn.textContent = t; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(el.value).then(done, function () { el.select(); document.execCommand('copy'); done(); });
      else { el.select(); document.execCommand('copy'); done(); }
    });
  });

  document.querySelectorAll('[data-autosubmit]').forEach(function (el) {
    el.addEventListener('change', function () { if (el.form) el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit(); });
  });

  // Close the account menu with Escape or a click elsewhere.
  var menu = document.querySelector('details.menu');
  if (menu) {
    document.addEventListener('click', function (ev) { if (menu.open && !menu.contains(ev.target)) menu.open = false; });
    document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape' && menu.open) { menu.open = false; menu.querySelector('summary').focus(); } });
  }
})();
`;

export const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#18181b"/><path d="M9 22V10h3v5l5-5h4l-6 6 6 6h-4l-5-5v5z" fill="#fff"/></svg>`;

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

/** Content-hashed URLs, so the files can be cached for a year. */
export const ASSETS = {
  css: { path: `/assets/app.${hash(APP_CSS)}.css`, body: APP_CSS, type: 'text/css; charset=utf-8' },
  js: { path: `/assets/app.${hash(APP_JS)}.js`, body: APP_JS, type: 'text/javascript; charset=utf-8' },
  icon: { path: `/assets/icon.${hash(LOGO_SVG)}.svg`, body: LOGO_SVG, type: 'image/svg+xml' },
} as const;
