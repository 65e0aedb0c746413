/**
 * `pnpm start`: the whole system. The services are not built yet (see the README's status
 * table), so this says so and exits non-zero rather than pretending to start anything.
 */
console.error(
  [
    "Workstream cannot start as a whole yet: the gateway and the notifications service are still to be built.",
    "The tasks service runs on its own: see README.md, section 'The tasks service'.",
    "See README.md, section Status."
  ].join("\n")
)
process.exitCode = 1
