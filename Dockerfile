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
RUN npm ci --no-audit --no-fund
RUN npm run build
# Keep only what runs: production dependencies and the compiled server.
RUN npm prune --omit=dev --no-audit --no-fund \
 && rm -rf dist/test dist/bench dist/.tsbuildinfo

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    KEYLOFT_HOST=0.0.0.0 \
    KEYLOFT_PORT=8080 \
    KEYLOFT_DATA_DIR=/data
WORKDIR /app
RUN groupadd --system --gid 10001 keyloft \
 && useradd --system --uid 10001 --gid keyloft --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin keyloft \
 && mkdir -p /data \
 && chown keyloft:keyloft /data \
 && chmod 0700 /data
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
# The dashboard's CSS, script and icon are read from their source folder (src/http/web/assets.ts).
COPY --from=build /app/src/http/web/assets ./src/http/web/assets
USER keyloft
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.KEYLOFT_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "bin/keyloft.js", "serve"]
