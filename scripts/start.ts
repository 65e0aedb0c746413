/**
 * `pnpm start`: the whole system. The services are not built yet (see the README's status
 * table), so this says so and exits non-zero rather than pretending to start anything.
 */
console.error(
  [
    "Workstream cannot start yet: the gateway, tasks and notifications services are still to be built.",
    "What exists today is the domain model and the gRPC contract; run `pnpm test` to exercise them.",
    "See README.md, section Status."
  ].join("\n")
)
process.exitCode = 1
