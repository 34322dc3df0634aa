// The example GitHub Actions workflow deploys with ID tokens: no stored deploy key, the CLI from
// its packed tarball, previews closed when their pull request closes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/server.js';

const workflow = readFileSync(join(REPO_ROOT, 'examples/hello-app/ci/github-actions.yml'), 'utf8');
const code = workflow
  .split('\n')
  .filter((l) => !l.trimStart().startsWith('#'))
  .join('\n');

test('the example workflow asks for ID tokens and stores no deploy key', () => {
  assert.match(code, /^permissions:\n(?: {2}\S.*\n)* {2}id-token: write/m);
  assert.match(code, /keyloft deploy fly --oidc --project hello --env production/);
  assert.match(code, /keyloft deploy fly --oidc --project hello --env preview/);
  assert.ok(!/KEYLOFT_DEPLOY_KEY|kldk_/.test(code), 'a deploy key is still used');
  assert.match(code, /types: \[opened, synchronize, reopened, closed\]/);
  assert.match(code, /github\.event\.action == 'closed'[\s\S]*keyloft previews close --project hello --pr "\$\{\{ github\.event\.pull_request\.number \}\}"/);
});

test('the example workflow installs the CLI from its packed tarball, never from the registry', () => {
  assert.match(code, /npm pack && npm install -g \.\/keyloft-\*\.tgz/);
  assert.ok(!/npx keyloft/.test(code), 'npx keyloft would fetch that name from the public registry');
});
