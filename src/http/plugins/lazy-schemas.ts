import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Route schemas compiled on a route's first request instead of at start.
 *
 * Fastify compiles every route's validators (Ajv) and response serializers (fast-json-stringify)
 * while it starts; with ~90 routes that was about a quarter of the CPU time from spawn to the first
 * /healthz answer, and the generated code stayed in memory for routes an instance never serves.
 * These factories hand Fastify the very same compilers (Fastify's own defaults, loaded from its own
 * dependencies, with the same options), only deferred: each function compiles its schema the first
 * time it is called and keeps the result. Answers are identical; a route's first request pays for
 * its compilation once. `compilePendingSchemas` compiles everything still pending (tests use it to
 * show every schema compiles).
 *
 * Fastify treats a compilers factory given this way as "custom", which only changes one thing: a
 * `headers` schema is not lower-cased for it. No keyloft route declares a headers schema; the
 * check in `lazyCompilers` refuses one so that can't change silently.
 */

type AnyFn = (...args: unknown[]) => unknown;
interface RouteSchemaArg {
  schema: unknown;
  method?: string;
  url?: string;
  httpPart?: string;
}
type Compiler = (route: RouteSchemaArg) => AnyFn;
type Builder = (externalSchemas: unknown, options: unknown) => Compiler;

const fastifyRequire = createRequire(import.meta.resolve('fastify'));
/**
 * The same two compilers bundled by the build into one CommonJS file (scripts/bundle.mjs, from the
 * packages Fastify resolves), next to the server's own bundle. Loading Ajv, its formats,
 * fast-json-stringify and fast-uri module by module meant ~120 files resolved, read and wrapped on
 * the first request, which made Node's path code hot enough for V8's optimizing compiler: ~5 MB more
 * of the node binary resident in a server that had answered a handful of requests. Like the rest of
 * dist/, it is rebuilt by `npm run build` (and `npm ci`, through `prepare`) after a dependency
 * changes; without it (a tsc-only build) they are loaded from node_modules as before.
 */
const bundledFile = fileURLToPath(new URL('../../../serve/schema-compilers.cjs', import.meta.url));

function loadCompiler(which: 'ajv' | 'fjs'): Builder {
  if (existsSync(bundledFile)) return (fastifyRequire(bundledFile) as Record<'ajv' | 'fjs', () => Builder>)[which]();
  return (fastifyRequire(which === 'ajv' ? '@fastify/ajv-compiler' : '@fastify/fast-json-stringify-compiler') as () => Builder)();
}

export interface LazyCompilers {
  compilersFactory: { buildValidator: Builder; buildSerializer: Builder };
  /** Compiles every schema not compiled yet (throws what the compiler throws); returns how many. */
  compilePendingSchemas(): number;
}

/** Fastify's default validator and serializer compilers, deferred to each route's first use. */
export function lazyCompilers(): LazyCompilers {
  const pending = new Set<() => unknown>();
  const defer = (build: () => Builder, kind: 'validator' | 'serializer'): Builder => {
    let builder: Builder | undefined;
    return (externalSchemas, options) => {
      let compiler: Compiler | undefined;
      return (route) => {
        if (kind === 'validator' && route.httpPart === 'headers')
          throw new Error('lazy-schemas: headers schemas are not supported (see src/http/plugins/lazy-schemas.ts)');
        let fn: AnyFn | undefined;
        const compile = (): AnyFn => {
          if (!fn) {
            builder ??= build();
            compiler ??= builder(externalSchemas, options);
            fn = compiler(route);
            pending.delete(compile);
          }
          return fn;
        };
        pending.add(compile);
        const lazy = function (this: unknown, ...args: unknown[]) {
          return compile().apply(this, args);
        };
        if (kind === 'validator') {
          // Ajv's functions take the parent object as a second argument, so a root value can be
          // coerced; Fastify passes it when the function has `schemaEnv`. Errors are read from the function.
          Object.defineProperty(lazy, 'schemaEnv', { value: true });
          Object.defineProperty(lazy, 'errors', { get: () => (fn as { errors?: unknown } | undefined)?.errors });
        }
        return lazy;
      };
    };
  };
  return {
    compilersFactory: {
      buildValidator: defer(() => loadCompiler('ajv'), 'validator'),
      buildSerializer: defer(() => loadCompiler('fjs'), 'serializer'),
    },
    compilePendingSchemas() {
      let n = 0;
      for (const compile of [...pending]) {
        compile();
        n++;
      }
      return n;
    },
  };
}
