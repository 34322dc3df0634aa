# keyloft: multi-stage image (node:24-bookworm-slim, non-root, no secrets in any layer).
#
#   docker build -t keyloft .
#   docker run -p 8080:8080 -v keyloft-data:/data keyloft
#
# The commands are the README's: `npm ci` (its prepare script compiles), `npm run build`,
# and `npm start`, which is `node bin/keyloft.js serve` (run directly, so the server itself
# receives SIGTERM and drains). The master key is never baked in: give it at run time
# (KEYLOFT_MASTER_KEY from the platform's secret store, or KEYLOFT_MASTER_KEY_FILE on a
# mounted file), or let the embedded default generate /data/master.key on first start.
# See docs/OPERATIONS.md.

FROM node:24-bookworm-slim AS build
WORKDIR /app
# A toolchain for the native modules (argon2, better-sqlite3) in case no prebuilt binary fits.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY scripts/bundle.mjs ./scripts/bundle.mjs
RUN npm ci --no-audit --no-fund
RUN npm run build
# Keep only what runs: production dependencies, the compiled server and its bundles (dist/serve:
# what `serve` loads, with its V8 code cache made by the build; dist/bundle: the CLI and the
# fallback; dist/src stays, bin/keyloft.js compares their dates).
RUN npm prune --omit=dev --no-audit --no-fund \
 && rm -rf dist/test dist/bench dist/.tsbuildinfo

FROM node:24-bookworm-slim
# V8 limits for Fly.io's smallest machine (256 MB): a 128 MiB old generation and 2 MiB semi-spaces
# (V8's default would size the heap from the host's memory). test/integration/memory.test.ts runs
# the server with exactly these flags (read from this line) under a 16-client load and checks its
# peak resident memory; docs/OPERATIONS.md "Memory". NODE_COMPILE_CACHE: Node's compile cache,
# warmed below, so a start does not compile keyloft's JavaScript again (compiled code only, no data).
# MALLOC_MMAP_THRESHOLD_: glibc gives blocks of 32 KiB and more back to the system when freed (by
# default the threshold grows, and the 19 MiB an Argon2 sign-in uses stayed resident: 20 MB more at
# idle; 32 KiB rather than 128 KiB: ~5 MB less at the peak of W4, ~2 MB less idle).
# MALLOC_ARENA_MAX=2: at most 2 malloc arenas instead of 8 per core, one per thread that allocates
# (libuv's pool, V8's workers), each keeping its freed memory: ~10 MB less at the peak of W4.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=2" \
    MALLOC_MMAP_THRESHOLD_=32768 \
    MALLOC_ARENA_MAX=2 \
    NODE_COMPILE_CACHE=/app/.cache/node-compile-cache \
    KEYLOFT_HOST=0.0.0.0 \
    KEYLOFT_PORT=8080 \
    KEYLOFT_DATA_DIR=/data
WORKDIR /app
RUN groupadd --system --gid 10001 keyloft \
 && useradd --system --uid 10001 --gid keyloft --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin keyloft \
 && mkdir -p /data /app/.cache/node-compile-cache \
 && chown keyloft:keyloft /data /app/.cache/node-compile-cache \
 && chmod 0700 /data
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
# The dashboard's CSS, script and icon are read from their source folder (src/http/web/assets.ts).
COPY --from=build /app/src/http/web/assets ./src/http/web/assets
USER keyloft
# Warm the compile cache with the same Node and flags as at run time: the CLI (dist/bundle/main.mjs),
# the server's ES module bundle and its lazily loaded chunks, and the packages the server loads from
# node_modules on first use (argon2, nodemailer, openid-client), and Fastify's schema compilers
# (dist/serve/schema-compilers.cjs, one file made by the build).
RUN node bin/keyloft.js --version >/dev/null \
 && node --input-type=module -e "import { readdirSync } from 'node:fs'; for (const f of readdirSync('dist/bundle')) if (f !== 'main.mjs') await import('./dist/bundle/' + f); await import('./dist/serve/schema-compilers.cjs'); for (const p of ['argon2', 'nodemailer', 'openid-client']) await import(p);"
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.KEYLOFT_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "bin/keyloft.js", "serve"]
