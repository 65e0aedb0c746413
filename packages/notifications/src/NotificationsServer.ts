/**
 * The whole notifications service as one Layer: the event consumer, its stores, and the HTTP
 * server with the debug API, health and metrics. Released in reverse order: the consumer stops
 * taking messages and settles those in flight before the stores and connection close.
 */
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { AmqpConnection, Health, HttpEdge, Topology } from "@workstream/platform"
import { Effect, Layer, Option, Schedule } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApiBuilder, HttpApiMiddleware } from "effect/http-api"
import * as EventConsumer from "./consumer/EventConsumer.ts"
import { DedupeStore } from "./dedupe/DedupeStore.ts"
import { dedupeInRedis } from "./dedupe/redis.ts"
import { Api } from "./http/Api.ts"
import { DeadLettersHandlers, NotificationsHandlers } from "./http/NotificationsHandlers.ts"
import type { NotificationsSettings } from "./NotificationsConfig.ts"
import { recordsInMemory } from "./store/memory.ts"
import { recordsInMongo } from "./store/mongo.ts"
import { NotificationRecords } from "./store/NotificationRecords.ts"

export interface Options {
  /** Names prefixed for test isolation; the real topology by default. */
  readonly topology?: Topology.Topology
  readonly connectionName?: string
  /** Redis key prefix for test isolation; `workstream:processed:` by default. */
  readonly dedupePrefix?: string
}

// Ride out a blip of Mongo or Redis in place before handing the message to the retry queues.
const inPlaceRetry = Schedule.exponential("50 millis").pipe(Schedule.jittered, Schedule.upTo({ times: 3 }))

// An id no event has: reading it proves the store answers without touching real data.
const PROBE_ID = "00000000-0000-7000-8000-000000000000"

const records = (settings: NotificationsSettings) =>
  settings.store === "memory" || Option.isNone(settings.mongoUrl)
    ? Layer.effectDiscard(
        Effect.logWarning("NOTIFICATION_STORE=memory: records live in this process only and are lost on restart")
      ).pipe(Layer.provideMerge(recordsInMemory))
    : recordsInMongo({ url: settings.mongoUrl.value, database: settings.mongoDb })

const readinessChecks = Layer.effectDiscard(
  Effect.gen(function* () {
    const readiness = yield* Health.Readiness
    const amqp = yield* AmqpConnection.AmqpConnection
    const dedupe = yield* DedupeStore
    const store = yield* NotificationRecords
    yield* readiness.register("rabbitmq", Effect.as(amqp.check, {}))
    yield* readiness.register("redis", Effect.as(dedupe.seen(PROBE_ID), {}))
    yield* readiness.register("store", Effect.as(store.get(PROBE_ID), {}))
    yield* Effect.addFinalizer(() => readiness.drain)
  })
)

export const layer = (settings: NotificationsSettings, options: Options = {}) => {
  const topology = options.topology ?? Topology.make()
  const stores = Layer.mergeAll(
    records(settings),
    dedupeInRedis({
      url: settings.redisUrl,
      ttl: settings.dedupeTtl,
      ...(options.dedupePrefix === undefined ? {} : { prefix: options.dedupePrefix })
    })
  )
  const foundation = Layer.mergeAll(
    stores,
    Health.Readiness.layer,
    AmqpConnection.AmqpConnection.layer({
      url: settings.amqpUrl,
      connectionName: options.connectionName ?? "workstream-notifications"
    })
  )
  const api = HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }).pipe(
    Layer.provide(Layer.mergeAll(NotificationsHandlers, DeadLettersHandlers)),
    Layer.provide(HttpApiMiddleware.layerProblemDetails({ includeDetails: true }))
  )
  const http = HttpRouter.serve(Layer.mergeAll(api, Health.routes, HttpEdge.layer(Api)), { disableLogger: true }).pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: settings.httpPort, host: "0.0.0.0" }))
  )
  return Layer.mergeAll(
    EventConsumer.layer({ topology, prefetch: settings.prefetch, inPlaceRetry }),
    readinessChecks,
    http
  ).pipe(Layer.provideMerge(foundation))
}
