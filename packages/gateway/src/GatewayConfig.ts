/** The gateway's settings, read once at start from the environment (README: Configuration). */
import { ServiceConfig } from "@workstream/platform"
import { Config, Duration, type Effect } from "effect"

const settings = {
  tasksTarget: Config.String("TASKS_GRPC_TARGET"),
  httpPort: ServiceConfig.port("HTTP_PORT", 8080),
  logLevel: ServiceConfig.logLevel,
  /** Deadline of one request's call to the tasks service, retries included. */
  tasksDeadline: Config.Duration("TASKS_DEADLINE").pipe(Config.withDefault(Duration.seconds(3))),
  tasksRetries: Config.Int("TASKS_RETRIES").pipe(Config.withDefault(3)),
  /** Consecutive outage failures that open the circuit, and how long it stays open. */
  breakerThreshold: Config.Int("BREAKER_THRESHOLD").pipe(Config.withDefault(5)),
  breakerCooldown: Config.Duration("BREAKER_COOLDOWN").pipe(Config.withDefault(Duration.seconds(5))),
  maxBodyBytes: Config.Int("MAX_BODY_BYTES").pipe(Config.withDefault(1024 * 1024))
}

export type GatewaySettings = Effect.Success<ReturnType<typeof ServiceConfig.load<typeof settings>>>

/** Reads and validates the environment once; fails naming every bad variable. */
export const load = ServiceConfig.load(settings)
