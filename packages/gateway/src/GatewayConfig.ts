/** The gateway's settings, read once at start from the environment (README: Configuration). */
import { ServiceConfig } from "@workstream/platform"
import { Config, Duration, type Effect } from "effect"

const settings = {
  tasksTarget: Config.String("TASKS_GRPC_TARGET"),
  httpPort: ServiceConfig.port("HTTP_PORT", 8080),
  logLevel: ServiceConfig.logLevel,
  /** Deadline of one request's call to the tasks service, retries included. */
  tasksDeadline: ServiceConfig.positiveDuration("TASKS_DEADLINE", Duration.seconds(3)),
  tasksRetries: ServiceConfig.intAtLeast("TASKS_RETRIES", 0, 3),
  /** Consecutive outage failures that open the circuit, and how long it stays open. */
  breakerThreshold: ServiceConfig.intAtLeast("BREAKER_THRESHOLD", 1, 5),
  breakerCooldown: ServiceConfig.positiveDuration("BREAKER_COOLDOWN", Duration.seconds(5)),
  maxBodyBytes: ServiceConfig.intAtLeast("MAX_BODY_BYTES", 1, 1024 * 1024)
}

export type GatewaySettings = Effect.Success<ReturnType<typeof ServiceConfig.load<typeof settings>>>

/** Reads and validates the environment once; fails naming every bad variable. */
export const load = ServiceConfig.load(settings)
