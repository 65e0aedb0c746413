/**
 * `pnpm start`: the whole system. The services are not built yet (see the README's status
 * table), so this says so and exits non-zero rather than pretending to start anything.
 */
console.error(
  [
    "Workstream cannot start as a whole yet: the notifications service and the embedded mode are still to be built.",
    "The tasks service and the gateway run on their own: see README.md, sections 'The tasks service' and 'The gateway'.",
    "See README.md, section Status."
  ].join("\n")
)
process.exitCode = 1
