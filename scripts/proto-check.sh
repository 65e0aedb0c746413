#!/usr/bin/env bash
# Guards the gRPC contract: buf lint, generated TypeScript in sync with proto/, and no breaking
# change against main's contract (v1 only grows; a break is a new v2 package).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

buf lint
echo "proto: buf lint passed"

pnpm proto:gen >/dev/null
gen=packages/proto/src/gen
if ! git diff --quiet -- "$gen" || [ -n "$(git ls-files --others --exclude-standard -- "$gen")" ]; then
  echo "proto: $gen is stale: run 'pnpm proto:gen' and commit the result" >&2
  git status --short -- "$gen" >&2
  exit 1
fi
echo "proto: generated code is up to date"

# On a branch, compare with main; on main itself (CI), with the commit before.
if [ "$(git rev-parse --abbrev-ref HEAD)" != "main" ]; then against="branch=main"; else against="ref=HEAD~1"; fi
if git rev-parse --verify -q "${against#*=}" >/dev/null && [ -n "$(git ls-tree "${against#*=}" proto)" ]; then
  buf breaking --against ".git#${against}"
  echo "proto: no breaking change against ${against#*=}"
else
  echo "proto: buf breaking skipped: ${against#*=} has no proto/ to compare with yet"
fi
