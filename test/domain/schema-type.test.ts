// The route-schema builder (src/domain/schema-type.ts) gives exactly TypeBox's objects: the same
// JSON (keys in the same order) and the same non-enumerable `~kind` / `~optional` marks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type as TB } from 'typebox';
import { Type } from '../../src/domain/schema-type.js';

function same(ours: unknown, theirs: unknown, what: string): void {
  assert.equal(JSON.stringify(ours), JSON.stringify(theirs), what);
  const marks = (x: unknown) => {
    const out: Record<string, unknown> = {};
    const walk = (v: unknown, path: string) => {
      if (!v || typeof v !== 'object') return;
      for (const k of ['~kind', '~optional']) if (k in v) out[`${path}${k}`] = (v as Record<string, unknown>)[k];
      for (const [k, c] of Object.entries(v)) walk(c, `${path}${k}.`);
    };
    walk(x, '');
    return out;
  };
  assert.deepEqual(marks(ours), marks(theirs), `${what}: marks`);
}

test('each builder gives what TypeBox gives, with and without options', () => {
  const o = { description: 'd', default: 'x' };
  same(Type.String(), TB.String(), 'String');
  same(
    Type.String({ minLength: 1, maxLength: 9, pattern: '^a$', format: 'date-time', ...o }),
    TB.String({ minLength: 1, maxLength: 9, pattern: '^a$', format: 'date-time', ...o }),
    'String options',
  );
  same(Type.Integer({ minimum: 0, maximum: 3 }), TB.Integer({ minimum: 0, maximum: 3 }), 'Integer');
  same(Type.Boolean({ default: false }), TB.Boolean({ default: false }), 'Boolean');
  same(Type.Null(), TB.Null(), 'Null');
  same(Type.Unknown(), TB.Unknown(), 'Unknown');
  same(Type.Unknown({ description: 'u' }), TB.Unknown({ description: 'u' }), 'Unknown options');
  for (const v of ['a', 3, true, false]) same(Type.Literal(v as string), TB.Literal(v as string), `Literal ${String(v)}`);
  same(Type.Literal('a', { description: 'l' }), TB.Literal('a', { description: 'l' }), 'Literal options');
  same(Type.Array(Type.String(), { maxItems: 3, minItems: 1 }), TB.Array(TB.String(), { maxItems: 3, minItems: 1 }), 'Array');
  same(Type.Union([Type.String(), Type.Null()], { description: 'u' }), TB.Union([TB.String(), TB.Null()], { description: 'u' }), 'Union');
  same(Type.Ref('Error'), TB.Ref('Error'), 'Ref');
  same(Type.Ref('Error', { description: 'r' }), TB.Ref('Error', { description: 'r' }), 'Ref options');
  same(Type.Record(Type.String(), Type.String()), TB.Record(TB.String(), TB.String()), 'Record');
  same(
    Type.Record(Type.String({ maxLength: 64 }), Type.String({ minLength: 1 }), { maxProperties: 3, description: 'x' }),
    TB.Record(TB.String({ maxLength: 64 }), TB.String({ minLength: 1 }), { maxProperties: 3, description: 'x' }),
    'Record options',
  );
  same(Type.Record(Type.String({ pattern: '^[A-Z]+$' }), Type.Unknown()), TB.Record(TB.String({ pattern: '^[A-Z]+$' }), TB.Unknown()), 'Record pattern');
  same(Type.Object({}), TB.Object({}), 'Object empty');
  same(Type.Optional(Type.String({ minLength: 1 })), TB.Optional(TB.String({ minLength: 1 })), 'Optional');
  same(
    Type.Object(
      {
        a: Type.String(),
        b: Type.Optional(Type.Integer()),
        c: Type.Union([Type.Literal('x'), Type.Literal('y')]),
        d: Type.Optional(Type.Array(Type.Object({ e: Type.Boolean() }))),
      },
      { additionalProperties: false, description: 'o' },
    ),
    TB.Object(
      {
        a: TB.String(),
        b: TB.Optional(TB.Integer()),
        c: TB.Union([TB.Literal('x'), TB.Literal('y')]),
        d: TB.Optional(TB.Array(TB.Object({ e: TB.Boolean() }))),
      },
      { additionalProperties: false, description: 'o' },
    ),
    'Object',
  );
  same(Type.Object({ a: Type.Optional(Type.String()) }), TB.Object({ a: TB.Optional(TB.String()) }), 'Object all optional');
  same(
    Type.Intersect([Type.Object({ a: Type.String() }), Type.Object({ token: Type.String() })], { description: 'i' }),
    TB.Intersect([TB.Object({ a: TB.String() }), TB.Object({ token: TB.String() })], { description: 'i' }),
    'Intersect',
  );
});

test('Optional does not change the schema it is given (a shared schema stays required elsewhere)', () => {
  const s = Type.String();
  const obj = Type.Object({ a: Type.Optional(s), b: s });
  assert.deepEqual((obj as { required?: string[] }).required, ['b']);
});
