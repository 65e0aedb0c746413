/** A notifications service in the test's process against the machine's RabbitMQ and Redis, with names of its own. */
import { randomBytes } from "node:crypto"
import type { Topology } from "@workstream/platform"
import { freePort } from "@workstream/tasks/testing"
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { DEFAULT_MEMORY_LIMIT, NotificationsServer } from "../../src/index.ts"
import type { NotificationsSettings } from "../../src/NotificationsConfig.ts"

export const AMQP_URL = process.env.TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

/** Starts the service on `topology` for the scope's lifetime; its settings (the port among them). */
export const startNotifications = (topology: Topology.Topology) =>
  Effect.gen(function* () {
    const settings: NotificationsSettings = {
      amqpUrl: Redacted.make(AMQP_URL),
      redisUrl: Redacted.make(REDIS_URL),
      store: "memory",
      memoryLimit: DEFAULT_MEMORY_LIMIT,
      mongoUrl: Option.none(),
      mongoDb: "unused",
      httpPort: yield* freePort,
      logLevel: "Warn",
      prefetch: 10,
      dedupeTtl: Duration.minutes(5),
      queueDepthBound: 10_000,
      dlqDepthBound: 0
    }
    yield* Layer.build(
      NotificationsServer.layer(settings, {
        topology,
        connectionName: `ws-test-notifications-${randomBytes(4).toString("hex")}`,
        dedupePrefix: `test:${randomBytes(5).toString("hex")}:`
      })
    )
    return settings
  })

export const json = (url: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(url)
    return {
      status: response.status,
      type: response.headers.get("content-type"),
      body: (await response.json()) as unknown
    }
  })
