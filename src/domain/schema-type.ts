import type * as TypeBox from 'typebox';

/**
 * The part of TypeBox's `Type` builder that keyloft's route schemas use, producing the same JSON
 * Schema objects (same keys, same order, the same non-enumerable `~kind` / `~optional` marks), so
 * a server start does not load TypeBox's 373 modules (about a third of a start's module loading)
 * only to build plain objects. Its TypeScript types are TypeBox's own, so `Static<>` and the
 * Fastify type provider work as before. test/domain/schema-type.test.ts compares every builder
 * with TypeBox's output; a builder not listed here is a compile error (add it there and here).
 */
type Schema = Record<string, unknown>;
type Options = Record<string, unknown> | undefined;

function mark(schema: Schema, kind: string): Schema {
  Object.defineProperty(schema, '~kind', { value: kind, writable: true, enumerable: false, configurable: true });
  return schema;
}
const isOptional = (s: unknown): boolean => (s as { '~optional'?: unknown })['~optional'] === true;
const literalType = (v: unknown): string => (typeof v === 'string' ? 'string' : typeof v === 'number' ? 'number' : 'boolean');

const builder = {
  String: (options?: Options) => mark({ type: 'string', ...options }, 'String'),
  Integer: (options?: Options) => mark({ type: 'integer', ...options }, 'Integer'),
  Boolean: (options?: Options) => mark({ type: 'boolean', ...options }, 'Boolean'),
  Null: (options?: Options) => mark({ type: 'null', ...options }, 'Null'),
  Unknown: (options?: Options) => mark({ ...options }, 'Unknown'),
  Literal: (value: unknown, options?: Options) => mark({ type: literalType(value), const: value, ...options }, 'Literal'),
  Array: (items: Schema, options?: Options) => mark({ type: 'array', items, ...options }, 'Array'),
  Union: (anyOf: Schema[], options?: Options) => mark({ anyOf, ...options }, 'Union'),
  Intersect: (allOf: Schema[], options?: Options) => mark({ allOf, ...options }, 'Intersect'),
  Ref: (ref: string, options?: Options) => mark({ $ref: ref, ...options }, 'Ref'),
  Record: (key: Schema, value: Schema, options?: Options) =>
    mark({ type: 'object', patternProperties: { [typeof key.pattern === 'string' ? key.pattern : '^.*$']: value }, ...options }, 'Record'),
  Object: (properties: Record<string, Schema>, options?: Options) => {
    const required = Object.keys(properties).filter((k) => !isOptional(properties[k]));
    return mark({ type: 'object', ...(required.length > 0 ? { required } : {}), properties, ...options }, 'Object');
  },
  Optional: (schema: Schema) => {
    const copy = mark({ ...schema }, String(schema['~kind']));
    Object.defineProperty(copy, '~optional', { value: true, writable: true, enumerable: false, configurable: true });
    return copy;
  },
};

/** TypeBox's `Type`, limited to the builders above (the others are absent at run time). */
export const Type = builder as unknown as Pick<
  typeof TypeBox.Type,
  'String' | 'Integer' | 'Boolean' | 'Null' | 'Unknown' | 'Literal' | 'Array' | 'Union' | 'Intersect' | 'Ref' | 'Record' | 'Object' | 'Optional'
>;
