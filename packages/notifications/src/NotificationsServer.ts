/**
 * The whole notifications service as one Layer: the event consumer, its stores, and the HTTP
 * server with the debug API, health and metrics. Released in reverse order: the consumer stops
 * taking messages and settles those in flight before the stores and connection close.
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { AmqpConnection, EventSource, Health, HttpEdge, Topology } from "@workstream/platform"
import { Effect, Layer, Option, Schedule } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApiBuilder, HttpApiMiddleware } from "effect/http-api"
import * as EventConsumer from "./consumer/EventConsumer.ts"
import * as QueueDepthMetrics from "./consumer/QueueDepthMetrics.ts"
import { DedupeStore, type DedupeUnavailable } from "./dedupe/DedupeStore.ts"
import { dedupeInRedis } from "./dedupe/redis.ts"
import { Api } from "./http/Api.ts"
import { DeadLettersHandlers, NotificationsHandlers } from "./http/NotificationsHandlers.ts"
import type { NotificationsSettings } from "./NotificationsConfig.ts"
import { recordsInMemory } from "./store/memory.ts"
import { recordsInMongo } from "./store/mongo.ts"
import { NotificationRecords, type StoreUnavailable } from "./store/NotificationRecords.ts"

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
        Effect.logWarning(
          `NOTIFICATION_STORE=memory: the newest ${settings.memoryLimit} records live in this process only and are lost on restart`
        )
      ).pipe(Layer.provideMerge(recordsInMemory({ limit: settings.memoryLimit })))
    : recordsInMongo({ url: settings.mongoUrl.value, database: settings.mongoDb })

/** What the service consumes from and keeps its state in, with the names `/readyz` reports them by. */
export interface Dependencies {
  readonly eventSource: Layer.Layer<EventSource.EventSource>
  readonly dedupe: Layer.Layer<DedupeStore, DedupeUnavailable>
  readonly records: Layer.Layer<NotificationRecords, StoreUnavailable>
  readonly names: { readonly broker: string; readonly dedupe: string }
}

/** Bounds on the queue depths: over them, `/readyz` reports degraded (see NotificationsConfig). */
export interface DepthBounds {
  readonly queue: number
  readonly deadLetters: number
}

const readinessChecks = (names: Dependencies["names"], bounds: DepthBounds) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const readiness = yield* Health.Readiness
      const source = yield* EventSource.EventSource
      const dedupe = yield* DedupeStore
      const store = yield* NotificationRecords
      yield* readiness.register(
        names.broker,
        Effect.map(source.depths, (depths) => ({ queue_depth: depths.queue, dlq_depth: depths.deadLetters })),
        { bounds: { queue_depth: bounds.queue, dlq_depth: bounds.deadLetters } }
      )
      yield* readiness.register(names.dedupe, Effect.as(dedupe.seen(PROBE_ID), {}))
      yield* readiness.register("store", Effect.as(store.get(PROBE_ID), {}))
      yield* Effect.addFinalizer(() => readiness.drain)
    })
  )

/** The service over any adapters: the embedded mode passes in-memory ones. */
export const layerWith = (
  dependencies: Dependencies,
  options: { readonly httpPort: number; readonly host?: string; readonly bounds: DepthBounds }
) => {
  const foundation = Layer.mergeAll(
    dependencies.eventSource,
    dependencies.dedupe,
    dependencies.records,
    Health.Readiness.layer
  )
  const api = HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }).pipe(
    Layer.provide(Layer.mergeAll(NotificationsHandlers, DeadLettersHandlers)),
    Layer.provide(HttpApiMiddleware.layerProblemDetails({ includeDetails: true }))
  )
  const http = HttpRouter.serve(Layer.mergeAll(api, Health.routes, HttpEdge.layer(Api)), { disableLogger: true }).pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: options.httpPort, host: options.host ?? "0.0.0.0" })),
    Layer.provide(HttpEdge.spanNames(Api))
  )
  return Layer.mergeAll(
    EventConsumer.layer({ inPlaceRetry }),
    QueueDepthMetrics.layer,
    readinessChecks(dependencies.names, options.bounds),
    http
  ).pipe(Layer.provideMerge(foundation))
}

/** The service against RabbitMQ, Redis and the configured store. */
export const layer = (settings: NotificationsSettings, options: Options = {}) =>
  layerWith(
    {
      eventSource: EventSource.EventSource.layerAmqp({
        topology: options.topology ?? Topology.make(),
        prefetch: settings.prefetch
      }).pipe(
        Layer.provide(
          AmqpConnection.AmqpConnection.layer({
            url: settings.amqpUrl,
            connectionName: options.connectionName ?? "workstream-notifications"
          })
        )
      ),
      dedupe: dedupeInRedis({
        url: settings.redisUrl,
        ttl: settings.dedupeTtl,
        ...(options.dedupePrefix === undefined ? {} : { prefix: options.dedupePrefix })
      }),
      records: records(settings),
      names: { broker: "rabbitmq", dedupe: "redis" }
    },
    { httpPort: settings.httpPort, bounds: boundsOf(settings) }
  )

export const boundsOf = (settings: NotificationsSettings): DepthBounds => ({
  queue: settings.queueDepthBound,
  deadLetters: settings.dlqDepthBound
})
