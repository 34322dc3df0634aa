import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DOTENV_MAX_BYTES, DOTENV_MAX_ENTRIES, parseDotenv } from '../../src/domain/dotenv.js';
import type { DotenvEntry } from '../../src/domain/dotenv.js';
import { ValidationError } from '../../src/domain/errors.js';

/** A value that must never show up in an error message. */
const MARKER = 'SeCrEt_MaRkEr_7f3a';

function values(text: string): Record<string, string> {
  return Object.fromEntries(parseDotenv(text).map((e) => [e.name, e.value]));
}

/** Asserts parseDotenv throws a ValidationError on `line`, with field body, and returns it. */
function rejects(text: string, line: number, code: string = 'validation_failed'): ValidationError {
  let caught: unknown;
  try {
    parseDotenv(text);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ValidationError, `expected a ValidationError, got ${String(caught)}`);
  assert.equal(caught.field, 'body');
  assert.equal(caught.code, code);
  assert.match(caught.message, new RegExp(`^line ${line}: `));
  assert.ok(!caught.message.includes(MARKER), `message leaks the value: ${caught.message}`);
  return caught;
}

const PEM = [
  '-----BEGIN PRIVATE KEY-----',
  'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj',
  'MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu',
  'NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ==',
  '-----END PRIVATE KEY-----',
  '',
].join('\n');

describe('parseDotenv: basics', () => {
  it('returns no entries for empty text, blank lines and comments', () => {
    assert.deepEqual(parseDotenv(''), []);
    assert.deepEqual(parseDotenv('\n\n   \n\t\n# a comment\n   # indented comment\n'), []);
  });

  it('parses NAME=value with 1-based line numbers, skipping comments and blanks', () => {
    const got = parseDotenv('# header\n\nA=1\n  # note\nB=two\n\nC=3');
    const want: DotenvEntry[] = [
      { name: 'A', value: '1', line: 3 },
      { name: 'B', value: 'two', line: 5 },
      { name: 'C', value: '3', line: 7 },
    ];
    assert.deepEqual(got, want);
  });

  it('accepts an export prefix', () => {
    assert.deepEqual(parseDotenv('export A=1\nexport\tB="x"\n  export   C=3'), [
      { name: 'A', value: '1', line: 1 },
      { name: 'B', value: 'x', line: 2 },
      { name: 'C', value: '3', line: 3 },
    ]);
  });

  it('allows spaces and tabs around =', () => {
    assert.deepEqual(values('A = 1\nB\t=\tb\nC =  "q"\nD=   \'s\'\n  E  =e'), { A: '1', B: 'b', C: 'q', D: 's', E: 'e' });
  });

  it('keeps names case-sensitive and accepts underscores and digits', () => {
    assert.deepEqual(values('db_url=a\nDB_URL=b\n_X9=c'), { db_url: 'a', DB_URL: 'b', _X9: 'c' });
  });

  it('accepts empty values', () => {
    assert.deepEqual(values('A=\nB=""\nC=\'\'\nD=   \nE= # just a comment'), { A: '', B: '', C: '', D: '', E: '' });
  });
});

describe('parseDotenv: unquoted values', () => {
  it('trims them and keeps inner spaces', () => {
    assert.equal(values('A=  hello   world  ').A, 'hello   world');
  });

  it('starts an inline comment at a # after whitespace', () => {
    assert.deepEqual(values('A=value # comment\nB=value\t# tab comment\nC=a#b\nD=#x\nE=http://h/p#frag'), {
      A: 'value',
      B: 'value',
      C: 'a#b',
      D: '#x',
      E: 'http://h/p#frag',
    });
  });

  it('keeps backslashes, quotes and = literally', () => {
    assert.deepEqual(values('A=a\\nb\nB=it\'s "x"\nC=k=v==\nD=$HOME'), { A: 'a\\nb', B: 'it\'s "x"', C: 'k=v==', D: '$HOME' });
  });
});

describe('parseDotenv: backtick-quoted values (as the dotenv package reads them)', () => {
  it('lose their backticks and are literal: quotes of both kinds, escapes, # and $ kept', () => {
    assert.equal(values('A=`value`').A, 'value');
    const text = ['A=', '`', `it's "quoted" \\n $X # not a comment`, '`'].join('');
    assert.equal(values(text).A, `it's "quoted" \\n $X # not a comment`);
  });

  it('take a # comment after the closing backtick, and may span lines', () => {
    assert.deepEqual(parseDotenv('A=`one\ntwo`  # c\nB=2'), [
      { name: 'A', value: 'one\ntwo', line: 1 },
      { name: 'B', value: '2', line: 3 },
    ]);
  });

  it('refuse an unterminated backtick, naming the line and the entry', () => {
    const err = rejects('OK=1\nTOKEN=`abc', 2);
    assert.equal(err.message, 'line 2: unterminated backtick-quoted value for TOKEN');
  });
});

describe('parseDotenv: single-quoted values', () => {
  it('are literal: no escapes, # and $ kept', () => {
    assert.equal(values(String.raw`A='a\nb \t \\ \" $X # not a comment "q"'`).A, String.raw`a\nb \t \\ \" $X # not a comment "q"`);
    rejects(String.raw`A='a\' b'`, 1); // a backslash does not escape the closing quote
  });

  it('take a # comment or whitespace after the closing quote', () => {
    assert.deepEqual(values("A='x'   # c\nB='y'\t\nC=' padded '"), { A: 'x', B: 'y', C: ' padded ' });
  });

  it('may span lines, keeping the newlines', () => {
    assert.deepEqual(parseDotenv("A='one\ntwo\n\n# not a comment\n'\nB=2"), [
      { name: 'A', value: 'one\ntwo\n\n# not a comment\n', line: 1 },
      { name: 'B', value: '2', line: 6 },
    ]);
  });

  it('round-trip a PEM key with a trailing newline', () => {
    assert.deepEqual(parseDotenv(`KEY='${PEM}'\nNEXT=1\n`), [
      { name: 'KEY', value: PEM, line: 1 },
      { name: 'NEXT', value: '1', line: 7 },
    ]);
  });
});

describe('parseDotenv: double-quoted values', () => {
  it('decode each escape', () => {
    const v = values(String.raw`N="a\nb"
R="a\rb"
T="a\tb"
Q="a\"b"
B="a\\b"
D="a\$b"
ALL="\n\r\t\"\\\$"`);
    assert.deepEqual(v, { N: 'a\nb', R: 'a\rb', T: 'a\tb', Q: 'a"b', B: 'a\\b', D: 'a$b', ALL: '\n\r\t"\\$' });
  });

  it('keep the backslash of unknown escapes', () => {
    assert.equal(values(String.raw`A="\x \u0041 \a \'"`).A, String.raw`\x \u0041 \a \'`);
    assert.equal(values(String.raw`A="\\n"`).A, '\\n', 'an escaped backslash does not start another escape');
  });

  it('keep # and $ and single quotes inside', () => {
    assert.equal(values(`A="a # b 'c' $D"`).A, "a # b 'c' $D");
  });

  it('take a # comment or whitespace after the closing quote', () => {
    assert.deepEqual(values('A="x" # c\nB="y"#c\nC="z"  \nD=" padded "'), { A: 'x', B: 'y', C: 'z', D: ' padded ' });
  });

  it('may span lines, keeping real newlines', () => {
    assert.deepEqual(parseDotenv('A="one\n  two\\tx\n\n# kept\n"\nB=2'), [
      { name: 'A', value: 'one\n  two\tx\n\n# kept\n', line: 1 },
      { name: 'B', value: '2', line: 6 },
    ]);
  });

  it('round-trip a PEM key with a trailing newline', () => {
    assert.deepEqual(parseDotenv(`# key\nKEY="${PEM}"\nNEXT=1\n`), [
      { name: 'KEY', value: PEM, line: 2 },
      { name: 'NEXT', value: '1', line: 8 },
    ]);
  });

  it('count a backslash-newline as a line and keep it', () => {
    assert.deepEqual(parseDotenv('A="x\\\ny"\nB=1'), [
      { name: 'A', value: 'x\\\ny', line: 1 },
      { name: 'B', value: '1', line: 3 },
    ]);
  });
});

describe('parseDotenv: line endings and BOM', () => {
  it('accepts CRLF and gives multi-line values \\n', () => {
    const crlf = `# c\r\nA=1\r\nB="x\r\ny"\r\nC='p\r\nq'\r\n\r\nD=d # c\r\n`;
    assert.deepEqual(parseDotenv(crlf), [
      { name: 'A', value: '1', line: 2 },
      { name: 'B', value: 'x\ny', line: 3 },
      { name: 'C', value: 'p\nq', line: 5 },
      { name: 'D', value: 'd', line: 8 },
    ]);
  });

  it('round-trips a PEM key written with CRLF as \\n', () => {
    assert.equal(values(`KEY="${PEM.replace(/\n/g, '\r\n')}"\r\n`).KEY, PEM);
  });

  it('reports CRLF line numbers like LF ones', () => {
    rejects('A=1\r\nB="open\r\n\r\nC=3\r\n', 2);
  });

  it('strips a leading BOM', () => {
    assert.deepEqual(parseDotenv('\uFEFFA=1\nB=2'), [
      { name: 'A', value: '1', line: 1 },
      { name: 'B', value: '2', line: 2 },
    ]);
    assert.deepEqual(parseDotenv('\uFEFF# comment\nA=1'), [{ name: 'A', value: '1', line: 2 }]);
  });
});

describe('parseDotenv: syntax errors name the line', () => {
  it('unterminated double quote reports the line where it opened', () => {
    const err = rejects(`A=1\n# c\n\nDB_URL="${MARKER}\nB=2\nC=3\n`, 4);
    assert.equal(err.message, 'line 4: unterminated double-quoted value for DB_URL');
  });

  it('unterminated double quote after a trailing escaped quote or backslash', () => {
    rejects(`A=1\nB="${MARKER}\\"`, 2);
    rejects(`A=1\nB="${MARKER}\\`, 2);
  });

  it('unterminated single quote reports the line where it opened', () => {
    const err = rejects(`A=1\nTOKEN='${MARKER}\nB=2\n`, 2);
    assert.equal(err.message, 'line 2: unterminated single-quoted value for TOKEN');
  });

  it('a line without = is refused', () => {
    assert.equal(rejects(`A=1\n\n${MARKER}\n`, 3).message, 'line 3: expected NAME=value');
    rejects('export FOO', 1);
  });

  it('a missing name is refused', () => {
    rejects(`A=1\n=${MARKER}`, 2);
    rejects(`A=1\n  = ${MARKER}`, 2);
  });

  it('a bad name is refused', () => {
    const err = rejects(`A=1\n# c\n1BAD=${MARKER}\n`, 3);
    assert.match(err.message, /invalid name/);
    rejects(`A-B=${MARKER}`, 1);
    rejects(`A B=${MARKER}`, 1);
    rejects(`"A"=${MARKER}`, 1);
    rejects(`${'N'.repeat(256)}=${MARKER}`, 1);
    assert.deepEqual(values(`${'N'.repeat(255)}=1`), { ['N'.repeat(255)]: '1' });
  });

  it('a bad name does not echo text that may belong to a broken multi-line value', () => {
    // An unquoted PEM: its base64 lines end with = and would otherwise be quoted as a "name".
    rejects(`KEY=-----BEGIN KEY-----\nMIIB/${MARKER}+abc==\n-----END KEY-----\n`, 2);
  });

  it('garbage after a closing double quote is refused on that line', () => {
    const err = rejects(`A=1\nB="${MARKER}"${MARKER}\n`, 2);
    assert.match(err.message, /^line 2: unexpected text after the closing quote of B/);
    rejects(`A="${MARKER}" x # c`, 1);
  });

  it('garbage after a closing single quote is refused on that line', () => {
    rejects(`A=1\nB='${MARKER}'${MARKER}\n`, 2);
    rejects(`A='it''s ${MARKER}'`, 1);
  });

  it('garbage after a multi-line value names the closing line and the opening one', () => {
    const err = rejects(`A=1\nB="${MARKER}\n${MARKER}\n${MARKER}" oops\nC=3`, 4);
    assert.match(err.message, /^line 4: .* of B \(the value starts on line 2\)/);
  });

  it('a duplicate name is refused with both lines', () => {
    const err = rejects(`A=1\nDB_URL=x\n\nexport DB_URL="${MARKER}"\n`, 4);
    assert.equal(err.message, 'line 4: DB_URL is defined twice (first on line 2)');
  });

  it('the first error in the file wins', () => {
    rejects(`A=1\nnope\nB="${MARKER}`, 2);
  });
});

describe('parseDotenv: value rules', () => {
  it('refuses NUL in a value, naming the line and the name', () => {
    for (const text of [`A=1\nB=${MARKER}\u0000x`, `A=1\nB="${MARKER}\u0000"`, `A=1\nB='\u0000${MARKER}'`]) {
      const err = rejects(text, 2);
      assert.match(err.message, /the value of B must not contain a NUL/);
    }
  });

  it('refuses a lone surrogate in a value', () => {
    rejects(`A=1\nB="${MARKER}\uD800"`, 2);
  });

  it('refuses a value over 64 KiB as payload_too_large and takes exactly 64 KiB', () => {
    const max = 64 * 1024;
    assert.equal(values(`A="${'x'.repeat(max)}"`).A?.length, max);
    const err = rejects(`A=1\nBIG="${MARKER}${'x'.repeat(max)}"`, 2, 'payload_too_large');
    assert.match(err.message, /the value of BIG must be at most 65536 bytes/);
    rejects(`BIG=${'é'.repeat(max / 2 + 1)}`, 1, 'payload_too_large');
  });
});

describe('parseDotenv: size limits', () => {
  it('refuses a file over DOTENV_MAX_BYTES of UTF-8', () => {
    const exact = `# ${'x'.repeat(DOTENV_MAX_BYTES - 2)}`;
    assert.deepEqual(parseDotenv(exact), []);
    assert.throws(
      () => parseDotenv(`${exact}x`),
      (e: unknown) => e instanceof ValidationError && e.field === 'body' && e.code === 'payload_too_large',
    );
  });

  it('counts UTF-8 bytes, not characters', () => {
    const text = `# ${'é'.repeat(DOTENV_MAX_BYTES / 2)}`; // fewer characters than the cap, more bytes
    assert.ok(text.length < DOTENV_MAX_BYTES);
    assert.throws(
      () => parseDotenv(text),
      (e: unknown) => e instanceof ValidationError && e.field === 'body' && e.code === 'payload_too_large',
    );
  });

  it(`accepts ${DOTENV_MAX_ENTRIES} entries and refuses one more`, () => {
    const lines = Array.from({ length: DOTENV_MAX_ENTRIES }, (_, i) => `K${i}=v`);
    assert.equal(parseDotenv(lines.join('\n')).length, DOTENV_MAX_ENTRIES);
    lines.push(`EXTRA=${MARKER}`);
    const err = rejects(lines.join('\n'), DOTENV_MAX_ENTRIES + 1, 'payload_too_large');
    assert.match(err.message, /at most 5000 entries/);
  });
});
