#!/bin/sh
# Lays out one service for its runtime image: the service and the workspace packages it needs
# in production, in the workspace's own layout, and nothing else (no tests, no other service).
#
# Why not `pnpm deploy`: it copies workspace packages into node_modules, and Node refuses to
# strip types from .ts files whose real path is inside node_modules. Here the workspace packages
# stay real directories under packages/, reached through pnpm's symlinks, as in development.
#
# Usage (from the workspace root, after a filtered production install):
#   sh infra/compose/assemble.sh <service> <output dir>
set -eu

service="$1"
out="$2"

mkdir -p "$out/packages"
cp -a package.json "$out/"
# Only the selected projects' dependencies were installed, so the virtual store holds nothing else.
# `cp -l` hard-links instead of copying: the same files, without copying 100 MB twice.
cp -al node_modules "$out/"

# The service and its production workspace dependencies (devDependencies such as the tasks
# package the gateway's tests use are not followed).
for dir in $(pnpm --filter-prod "@workstream/${service}..." ls --depth -1 --parseable); do
  name="$(basename "$dir")"
  mkdir -p "$out/packages/$name"
  cp -a "$dir/package.json" "$dir/src" "$out/packages/$name/"
  cp -al "$dir/node_modules" "$out/packages/$name/"
  # The tasks and gateway services load the gRPC contract at run time (TASKS_PROTO_PATH).
  if [ "$name" = "proto" ]; then cp -a proto "$out/proto"; fi
done

# Tests that live beside the code are not part of the image.
find "$out/packages" -path '*/node_modules' -prune -o -name '*.test.ts' -exec rm -f {} +
cp infra/compose/healthcheck.mjs "$out/healthcheck.mjs"
