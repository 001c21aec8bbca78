#!/usr/bin/env bash
# Runs the README's test command (`npm test`) under another Node.js major version:
#
#   scripts/test-on-node.sh 24
#
# The Node.js binary comes from the npm registry as the `node-linux-<arch>` package (the official
# build, published by the Node.js project), cached in node_modules/.cache/tracebuf-node-<major>.
# npm, pnpm, tsc, vitest and every worker the tests start then run on that Node.js.
set -euo pipefail
major=${1:?usage: scripts/test-on-node.sh MAJOR (for example 24)}
case "$major" in
  '' | *[!0-9]*) echo "test-on-node: MAJOR must be a number: MAJOR=$major" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) arch=x64 ;;
  Linux-aarch64) arch=arm64 ;;
  *) echo "test-on-node: the npm registry has no node-linux package for $(uname -sm)" >&2; exit 1 ;;
esac
dir="node_modules/.cache/tracebuf-node-$major"
npm install --prefix "$dir" --no-save --no-audit --no-fund --no-package-lock --loglevel=error "node-linux-$arch@$major"
bin="$PWD/$dir/node_modules/node-linux-$arch/bin"
echo "== npm test on Node.js $("$bin/node" --version) (node-linux-$arch@$major from the npm registry)"
PATH="$bin:$PATH" npm test
