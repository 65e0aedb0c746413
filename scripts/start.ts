/**
 * `pnpm start`: the whole system. The embedded mode is not built yet (see the README's status
 * table), so this says so and exits non-zero rather than pretending to start anything.
 */
console.error(
  [
    "Workstream cannot start as a whole from one command yet: the embedded mode is still to be built.",
    "Each service runs on its own against your servers: see README.md, sections 'The tasks service', 'The gateway' and 'The notifications service'.",
    "See README.md, section Status."
  ].join("\n")
)
process.exitCode = 1
