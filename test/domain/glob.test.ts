import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../src/domain/errors.js';
import { globMatch, literalPrefix } from '../../src/domain/glob.js';
import { issuerProblem, pullRequestOf, validateTrustPolicy } from '../../src/domain/trust-policy.js';

describe('trust-policy globs', () => {
  test('an exact pattern matches only the same string (case-sensitive, anchored at both ends)', () => {
    const p = 'repo:acme/shop:ref:refs/heads/main';
    assert.ok(globMatch(p, p));
    for (const v of [
      'repo:acme/shop:ref:refs/heads/main2',
      'xrepo:acme/shop:ref:refs/heads/main',
      'repo:ACME/shop:ref:refs/heads/main',
      'repo:acme/shop:ref:refs/heads/mai',
      '',
    ]) {
      assert.equal(globMatch(p, v), false, v);
    }
  });

  test('* stands for any run of characters, including none, : and /', () => {
    assert.ok(globMatch('repo:acme/shop:*', 'repo:acme/shop:ref:refs/heads/main'));
    assert.ok(globMatch('repo:acme/shop:*', 'repo:acme/shop:'));
    assert.ok(globMatch('repo:acme/*:pull_request', 'repo:acme/shop:pull_request'));
    assert.ok(globMatch('repo:acme/*:pull_request', 'repo:acme/a/b:c:pull_request'));
    assert.ok(globMatch('*', ''));
    assert.ok(globMatch('a*b*c', 'abc'));
    assert.ok(globMatch('a*b*c', 'aXXbYYbZZc'));
    assert.ok(globMatch('**', 'anything'));
    assert.equal(globMatch('repo:acme/*:pull_request', 'repo:acme/shop:pull_request_target'), false, 'anchored at the end');
    assert.equal(globMatch('repo:acme/shop:*', 'repo:acme/shop-evil:ref:refs/heads/main'), false);
    assert.equal(globMatch('a*b*c', 'aXXbYYc_'), false);
    assert.equal(globMatch('a*', 'ba'), false, 'anchored at the start');
  });

  test('regex syntax in a pattern is literal', () => {
    assert.ok(globMatch('repo:a.b/c+d:ref:(x)|[y]$^', 'repo:a.b/c+d:ref:(x)|[y]$^'));
    assert.equal(globMatch('repo:a.b/*', 'repo:aXb/c'), false, '. is not any character');
    assert.equal(globMatch('a?c', 'abc'), false, '? is not special');
    assert.equal(globMatch('[ab]', 'a'), false);
    assert.equal(globMatch('a\\*', 'a\\xyz'), true, 'a backslash does not escape *');
  });

  test('pathological patterns finish quickly (no backtracking blow-up)', () => {
    const value = `${'a'.repeat(5000)}b`;
    assert.equal(globMatch(`${'*a'.repeat(200)}*c`, value), false);
    assert.equal(globMatch(`${'*a'.repeat(200)}*b`, value), true);
  });

  test('literalPrefix is the text before the first *', () => {
    assert.equal(literalPrefix('repo:acme/*:x'), 'repo:acme/');
    assert.equal(literalPrefix('exact'), 'exact');
  });
});

describe('trust-policy rules', () => {
  const good = {
    name: 'main',
    issuer: 'https://token.actions.githubusercontent.com',
    audience: 'keyloft',
    subject: 'repo:acme/shop:ref:refs/heads/main',
    environment: 'production',
  };
  const fieldOf = (input: Record<string, unknown>, loopback = false) => {
    try {
      validateTrustPolicy(input, loopback);
    } catch (err) {
      assert.ok(err instanceof ValidationError);
      return `${err.field}: ${err.message}`;
    }
    return 'accepted';
  };

  test('a GitHub policy is accepted as given (trimmed)', () => {
    const v = validateTrustPolicy({ ...good, name: '  main  ', claims: { repository_owner: 'acme' } }, false);
    assert.deepEqual(v, { ...good, name: 'main', claims: { repository_owner: 'acme' } });
  });

  test('each broken rule names its field', () => {
    assert.match(fieldOf({ ...good, name: '' }), /^name: name is required/);
    assert.match(fieldOf({ ...good, name: 'x'.repeat(101) }), /^name: .*at most 100/);
    assert.match(fieldOf({ ...good, issuer: 'http://token.example.com' }), /^issuer: issuer must be https:\/\//);
    assert.match(fieldOf({ ...good, issuer: 'http://127.0.0.1:8080' }), /^issuer: .*KEYLOFT_OIDC_ALLOW_HTTP_LOOPBACK/);
    assert.equal(fieldOf({ ...good, issuer: 'http://127.0.0.1:8080' }, true), 'accepted');
    assert.equal(fieldOf({ ...good, issuer: 'http://localhost:9000' }, true), 'accepted');
    assert.match(fieldOf({ ...good, issuer: 'http://10.0.0.1:8080' }, true), /^issuer: issuer must be https:\/\//);
    assert.match(fieldOf({ ...good, issuer: 'https://user:pw@issuer.example.com' }), /^issuer: .*user name or password/);
    assert.match(fieldOf({ ...good, issuer: 'https://issuer.example.com/?a=b' }), /^issuer: .*query or fragment/);
    assert.match(fieldOf({ ...good, issuer: 'not a url' }), /^issuer: /);
    assert.match(fieldOf({ ...good, audience: '' }), /^audience: /);
    assert.match(fieldOf({ ...good, subject: '*' }), /^subject: .*any repository/);
    assert.match(fieldOf({ ...good, subject: '*:ref:refs/heads/main' }), /^subject: /);
    assert.match(fieldOf({ ...good, subject: 'repo:acme\n/shop' }), /^subject: .*control/);
    assert.match(fieldOf({ ...good, environment: 'staging' }), /^environment: /);
    assert.match(fieldOf({ ...good, claims: { sub: 'x' } }), /^claims\.sub: .*subject field/);
    assert.match(fieldOf({ ...good, claims: { aud: 'x' } }), /^claims\.aud: /);
    assert.match(fieldOf({ ...good, claims: { 'bad name': 'x' } }), /^claims: /);
    assert.match(fieldOf({ ...good, claims: { ref: '' } }), /^claims\.ref: /);
    assert.match(fieldOf({ ...good, claims: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`c${i}`, 'x'])) }), /^claims: .*at most 20/);
    assert.match(fieldOf({ ...good, claims: ['x'] }), /^claims: /);
  });

  test('issuerProblem allows only https, or loopback http when allowed', () => {
    assert.equal(issuerProblem('https://gitlab.com', false), undefined);
    assert.ok(issuerProblem('http://localhost:1', false));
    assert.equal(issuerProblem('http://localhost:1', true), undefined);
    assert.ok(issuerProblem('http://127.0.0.2:1', true));
    assert.ok(issuerProblem('ftp://x', true));
  });

  test('the pull request comes from a GitHub ref refs/pull/N/merge', () => {
    assert.equal(pullRequestOf({ ref: 'refs/pull/7/merge' }), 7);
    assert.equal(pullRequestOf({ ref: 'refs/pull/7/head' }), 7);
    for (const ref of ['refs/heads/main', 'refs/pull/0/merge', 'refs/pull/07/merge', 'refs/pull/7/merge/x', 'refs/pull/99999999999/merge', 7]) {
      assert.equal(pullRequestOf({ ref }), undefined, String(ref));
    }
  });
});
