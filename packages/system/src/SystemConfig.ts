/**
 * `pnpm start`'s own settings: where each part listens, in both modes (the services' `HTTP_PORT`s
 * would clash in one process), and, embedded, where PGlite listens and keeps its data. Everything
 * else is read from the same variables as in the services' own processes (README: Configuration).
 */
import { ServiceConfig } from "@workstream/platform"
import { Config, type Effect } from "effect"

const settings = {
  gatewayPort: ServiceConfig.port("GATEWAY_PORT", 8080),
  tasksGrpcPort: ServiceConfig.port("TASKS_GRPC_PORT", 50051),
  tasksHttpPort: ServiceConfig.port("TASKS_HTTP_PORT", 8081),
  notificationsPort: ServiceConfig.port("NOTIFICATIONS_PORT", 8082),
  postgresPort: ServiceConfig.port("EMBEDDED_POSTGRES_PORT", 5433),
  /** PGlite's data directory; in memory (lost at exit) when unset. */
  dataDir: Config.String("PGLITE_DATA_DIR").pipe(Config.option),
  logLevel: ServiceConfig.logLevel
}

export type SystemSettings = Effect.Success<ReturnType<typeof ServiceConfig.load<typeof settings>>>

/** Reads and validates the environment once; fails naming every bad variable. */
export const load = ServiceConfig.load(settings)
