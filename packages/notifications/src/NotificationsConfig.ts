/** The notifications service's settings, read once at start from the environment (README: Configuration). */
import { ServiceConfig } from "@workstream/platform"
import { Config, Duration, Effect, Option } from "effect"
import { DEFAULT_MEMORY_LIMIT } from "./newest.ts"

const settings = {
  amqpUrl: Config.Redacted("AMQP_URL"),
  redisUrl: Config.Redacted("REDIS_URL"),
  /** `mongo` (needs MONGO_URL) or `memory` (explicit: records do not survive a restart). */
  store: Config.Literals(["mongo", "memory"], "NOTIFICATION_STORE").pipe(Config.withDefault("mongo" as const)),
  /** How many entries each in-memory store keeps (records, dead letters, embedded dedupe marks), dropping the oldest. */
  memoryLimit: ServiceConfig.intAtLeast("NOTIFICATION_MEMORY_LIMIT", 1, DEFAULT_MEMORY_LIMIT),
  mongoUrl: Config.Redacted("MONGO_URL").pipe(Config.option),
  mongoDb: Config.String("MONGO_DB").pipe(Config.withDefault("workstream")),
  httpPort: ServiceConfig.port("HTTP_PORT", 8082),
  logLevel: ServiceConfig.logLevel,
  /** Unacked messages in flight: the consumer's backpressure bound. */
  prefetch: ServiceConfig.intAtLeast("PREFETCH", 1, 20),
  dedupeTtl: ServiceConfig.positiveDuration("DEDUPE_TTL", Duration.hours(24)),
  /** Over these, `/readyz` says degraded (still in rotation) and a warning is logged: consumer lag, and dead letters. */
  queueDepthBound: ServiceConfig.intAtLeast("QUEUE_DEPTH_BOUND", 0, 10_000),
  dlqDepthBound: ServiceConfig.intAtLeast("DLQ_DEPTH_BOUND", 0, 0)
}

export type NotificationsSettings = Effect.Success<ReturnType<typeof ServiceConfig.load<typeof settings>>>

/** Reads and validates the environment once; fails naming every bad variable. */
export const load = ServiceConfig.load(settings).pipe(
  Effect.filterOrFail(
    (s) => s.store === "memory" || Option.isSome(s.mongoUrl),
    () =>
      new ServiceConfig.ConfigInvalid({
        problems: [
          "MONGO_URL: missing (the default NOTIFICATION_STORE=mongo needs it; NOTIFICATION_STORE=memory keeps records in memory only)"
        ]
      })
  )
)
