#!/bin/sh
# Lays out one service for its runtime image: its bundle (dist/, built in the bundle stage) and the
# production dependencies the bundle leaves to Node, in the workspace's own layout, and nothing
# else: the workspace packages it uses are inside the bundle.
#
# Usage (from the workspace root, after a filtered production install and with the bundle in
# packages/<service>/dist):
#   sh infra/compose/assemble.sh <service> <output dir>
set -eu

service="$1"
out="$2"

if [ ! -f "packages/$service/dist/main.mjs" ]; then
  echo "assemble.sh: no bundle at packages/$service/dist/main.mjs (run: node packages/system/src/build.ts $service)" >&2
  exit 1
fi

mkdir -p "$out/packages/$service"
cp -a package.json "$out/"
# Only the selected projects' dependencies were installed, so the virtual store holds nothing else.
# `cp -l` hard-links instead of copying: the same files, without copying 100 MB twice.
cp -al node_modules "$out/"
cp -a "packages/$service/package.json" "packages/$service/dist" "$out/packages/$service/"
cp -al "packages/$service/node_modules" "$out/packages/$service/"
# Links to the workspace packages would point at directories the image does not have: the bundle holds them.
rm -rf "$out/packages/$service/node_modules/@workstream"

# The tasks and gateway services load the gRPC contract at run time (TASKS_PROTO_PATH), from the
# repository's proto/ directory, as deep below the bundle as below the TypeScript it was built from.
if pnpm --filter-prod "@workstream/${service}..." ls --depth -1 --parseable | grep -q '/packages/proto$'; then
  cp -a proto "$out/proto"
fi
cp infra/compose/healthcheck.mjs "$out/healthcheck.mjs"
