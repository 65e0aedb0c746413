/** The tasks service's settings, read once at start from the environment (README: Configuration). */

import { ServiceConfig } from "@workstream/platform"
import { Config, Context, Duration, type Effect } from "effect"

const settings = {
  databaseUrl: Config.Redacted("DATABASE_URL"),
  amqpUrl: Config.Redacted("AMQP_URL"),
  grpcPort: ServiceConfig.port("GRPC_PORT", 50051),
  httpPort: ServiceConfig.port("HTTP_PORT", 8081),
  logLevel: ServiceConfig.logLevel,
  /** How long an idempotency key protects a create (DESIGN: 24 h). */
  idempotencyTtl: ServiceConfig.positiveDuration("IDEMPOTENCY_TTL", Duration.hours(24)),
  /** Upper bound for one database round of a request, so a stuck Postgres gives UNAVAILABLE. */
  databaseTimeout: ServiceConfig.positiveDuration("DATABASE_TIMEOUT", Duration.seconds(5)),
  // At most 10,000: marking takes up to two batches' seqs as parameters, and Postgres allows 65,535.
  relayBatchSize: ServiceConfig.intBetween("RELAY_BATCH_SIZE", 1, 10_000, 1000),
  relayPollInterval: ServiceConfig.positiveDuration("RELAY_POLL_INTERVAL", Duration.seconds(1)),
  relayPublishTimeout: ServiceConfig.positiveDuration("RELAY_PUBLISH_TIMEOUT", Duration.seconds(10)),
  outboxRetention: ServiceConfig.positiveDuration("OUTBOX_RETENTION", Duration.days(7)),
  /** The oldest unpublished event older than this marks `/readyz` degraded (still in rotation) and logs a warning. */
  outboxLagBound: ServiceConfig.positiveDuration("OUTBOX_LAG_BOUND", Duration.seconds(30))
}

export type TasksSettings = Effect.Success<ReturnType<typeof ServiceConfig.load<typeof settings>>>

export class TasksConfig extends Context.Service<TasksConfig, TasksSettings>()("@workstream/tasks/TasksConfig") {
  /** Reads and validates the environment once; fails naming every bad variable. */
  static readonly settings = ServiceConfig.load(settings)
}
