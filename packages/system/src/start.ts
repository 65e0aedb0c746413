/**
 * `pnpm start`: the whole system from one command. With no server configured it runs embedded
 * (one process, nothing to install); with DATABASE_URL, AMQP_URL and REDIS_URL set it runs the
 * three services as processes against those servers. Half a configuration is refused, naming
 * what is missing, rather than silently mixing real and in-memory parts.
 */
import { Logging, ServiceConfig, ServiceMain, Tracing } from "@workstream/platform"
import { Effect, Layer, Option, Result } from "effect"
import * as Embedded from "./Embedded.ts"
import * as MultiProcess from "./MultiProcess.ts"
import * as SystemConfig from "./SystemConfig.ts"

const SERVERS = ["DATABASE_URL", "AMQP_URL", "REDIS_URL"] as const
const configured = SERVERS.filter((name) => (process.env[name] ?? "") !== "")

const banner = (endpoints: Embedded.Endpoints, settings: SystemConfig.SystemSettings, seconds: number) =>
  [
    "",
    "Workstream is running, embedded: one process, PGlite for Postgres, in-memory event bus and stores.",
    `  REST API       ${endpoints.gateway}/api/v1/tasks   (docs: ${endpoints.gateway}/docs)`,
    `  tasks          gRPC ${endpoints.tasksGrpc}, health and metrics on ${endpoints.tasksHttp}`,
    `  notifications  ${endpoints.notifications}/api/v1/notifications`,
    `  Postgres       ${endpoints.postgres} (${Option.match(settings.dataDir, { onNone: () => "in memory: gone at exit", onSome: (dir) => `data in ${dir}` })})`,
    "Try:",
    `  curl -s -X POST ${endpoints.gateway}/api/v1/tasks -H 'content-type: application/json' -d '{"title":"Try Workstream"}'`,
    `  curl -s ${endpoints.notifications}/api/v1/notifications`,
    `Ready in ${seconds.toFixed(1)} s (since the process started). Ctrl-C stops it.`,
    ""
  ].join("\n")

const embedded = Effect.gen(function* () {
  const [settings, endpoint] = yield* ServiceConfig.all([Embedded.load, Tracing.endpoint])
  // Built into the program's scope: spans are exported for as long as the system runs.
  const tracing = yield* Layer.build(Tracing.layer("workstream", endpoint))
  const endpoints = yield* Embedded.run(settings).pipe(
    Effect.provideContext(tracing),
    Effect.provide(Logging.layer({ service: "workstream", level: settings.system.logLevel }))
  )
  yield* Effect.sync(() => process.stdout.write(banner(endpoints, settings.system, performance.now() / 1000)))
  return yield* Effect.never
}).pipe(Effect.scoped)

if (configured.length === 0) {
  ServiceMain.run(embedded.pipe(Effect.provide(Logging.layer({ service: "workstream", level: "Info" }))))
} else if (configured.length === SERVERS.length) {
  const settings = await Effect.runPromise(Effect.result(SystemConfig.load))
  if (Result.isFailure(settings)) {
    process.stderr.write(`${settings.failure.message}\n`)
    process.exitCode = 1
  } else {
    process.exitCode = await MultiProcess.run(MultiProcess.services(settings.success))
  }
} else {
  const missing = SERVERS.filter((name) => !configured.includes(name))
  process.stderr.write(
    `Set all of ${SERVERS.join(", ")} to run against your servers (missing: ${missing.join(", ")}), or none of them for the embedded mode.\n`
  )
  process.exitCode = 1
}
