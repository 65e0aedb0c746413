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

# What to compare with: main's contract (the local branch, else origin/main in a CI checkout that
# has no local main); when HEAD is main itself, the commit before it.
base=""
for candidate in main origin/main; do
  if git rev-parse --verify -q "${candidate}^{commit}" >/dev/null; then base=$candidate; break; fi
done
if [ -z "$base" ]; then
  echo "proto: buf breaking skipped: no main branch in this repository to compare with"
  exit 0
fi
if [ "$(git rev-parse HEAD)" = "$(git rev-parse "$base")" ]; then
  if ! git rev-parse --verify -q "HEAD~1^{commit}" >/dev/null; then
    echo "proto: buf breaking skipped: HEAD is main's first commit (or a shallow clone), nothing before it to compare with"
    exit 0
  fi
  base="HEAD~1"
fi
if [ -z "$(git ls-tree -d "$base" proto)" ]; then
  echo "proto: buf breaking skipped: $base has no proto/ yet (the contract is new)"
  exit 0
fi
if ! buf breaking --against ".git#ref=$(git rev-parse "$base")"; then
  echo "proto: breaking change against $base: v1 only grows (add fields, never renumber, retype or remove); a break is a new workstream.tasks.v2 package" >&2
  exit 1
fi
echo "proto: no breaking change against $base"
