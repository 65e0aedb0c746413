/**
 * The whole tasks service as one Layer: Postgres (migrated), the stores, the application
 * service, the outbox relay, the gRPC server and the operational HTTP server. Released in
 * reverse order: the servers stop taking work first, the connections close last.
 */
import { PgClient } from "@effect/sql-pg"
import { AmqpConnection, EventPublisher, Health, Topology } from "@workstream/platform"
import { TASKS_PROTO_PATH } from "@workstream/proto"
import { Duration, Effect, Layer, Schema } from "effect"
import { CreateBatcher } from "./CreateBatcher.ts"
import { IdempotencyKeys } from "./db/IdempotencyKeys.ts"
import * as Migrations from "./db/migrations.ts"
import { OutboxStore } from "./db/OutboxStore.ts"
import { RelayLock } from "./db/RelayLock.ts"
import { TaskChanges } from "./db/TaskChanges.ts"
import { TaskRepository } from "./db/TaskRepository.ts"
import * as GrpcServer from "./grpc/GrpcServer.ts"
import * as OutboxRelay from "./outbox/OutboxRelay.ts"
import { OutboxSignal } from "./outbox/OutboxSignal.ts"
import { Tasks } from "./Tasks.ts"
import { TasksConfig, type TasksSettings } from "./TasksConfig.ts"

/** The broker is unreachable, or the publisher is reopening its channel: events wait in the outbox. */
class NoConfirmChannel extends Schema.TaggedError<NoConfirmChannel>()("NoConfirmChannel", {}) {
  override get message(): string {
    return "no confirm channel: events wait in the outbox"
  }
}

export interface Options {
  /** Names prefixed for test isolation; the real topology by default. */
  readonly topology?: Topology.Topology
  /** Shown in `rabbitmqctl list_connections`. */
  readonly connectionName?: string
  /** Another event bus than RabbitMQ (the embedded mode's in-memory broker), named so in `/readyz`. */
  readonly eventBus?: { readonly layer: Layer.Layer<EventPublisher.EventPublisher>; readonly name: string }
}

/** `/readyz`: Postgres answers (with the outbox backlog as figures); the event bus down only degrades. */
const readinessChecks = (busName: string, outboxLagBound: Duration.Duration) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const readiness = yield* Health.Readiness
      const outbox = yield* OutboxStore
      const publisher = yield* EventPublisher.EventPublisher
      yield* readiness.register(
        "postgres",
        // The backlog's figures are a query: their answer is the proof that Postgres answers.
        outbox.stats.pipe(
          Effect.map((stats) => ({
            outbox_pending: stats.pending,
            outbox_oldest_age_ms: stats.oldestPendingAgeMs ?? 0,
            outbox_parked: stats.parked
          }))
        ),
        // Any parked event is one the notifications will not get until an operator acts.
        { bounds: { outbox_oldest_age_ms: Duration.toMillis(outboxLagBound), outbox_parked: 0 } }
      )
      // Not essential: while the broker is away, writes go on into the outbox (that is what it is for).
      yield* readiness.register(
        busName,
        Effect.flatMap(publisher.isReady, (ready) =>
          ready ? Effect.succeed({}) : Effect.fail(new NoConfirmChannel())
        ),
        { essential: false }
      )
      // Shutdown begins by releasing this layer: stop looking ready before anything closes.
      yield* Effect.addFinalizer(() => readiness.drain)
    })
  )

export const layer = (settings: TasksSettings, options: Options = {}) => {
  const database = Migrations.layer.pipe(
    Layer.provideMerge(
      PgClient.layer({
        url: settings.databaseUrl,
        applicationName: "workstream-tasks",
        connectTimeout: "5 seconds",
        maxConnections: 10
      })
    )
  )
  const stores = Layer.mergeAll(
    TaskRepository.layer,
    TaskChanges.layer,
    OutboxStore.layer,
    IdempotencyKeys.layer,
    RelayLock.layer
  ).pipe(Layer.provideMerge(database))
  const eventBus = options.eventBus ?? {
    name: "rabbitmq",
    layer: EventPublisher.EventPublisher.layerAmqp({
      topology: options.topology ?? Topology.make(),
      confirmTimeout: settings.relayPublishTimeout
    }).pipe(
      Layer.provide(
        AmqpConnection.AmqpConnection.layer({
          url: settings.amqpUrl,
          connectionName: options.connectionName ?? "workstream-tasks"
        })
      )
    )
  }
  const foundation = Layer.mergeAll(
    stores,
    eventBus.layer,
    Health.Readiness.layer,
    OutboxSignal.layer,
    Layer.succeed(TasksConfig, settings)
  )
  const application = Tasks.layer.pipe(Layer.provide(CreateBatcher.layer()), Layer.provideMerge(foundation))
  return Layer.mergeAll(
    readinessChecks(eventBus.name, settings.outboxLagBound),
    OutboxRelay.layer,
    GrpcServer.layer({ port: settings.grpcPort, protoPath: TASKS_PROTO_PATH }),
    Health.serve({ port: settings.httpPort })
  ).pipe(Layer.provideMerge(application))
}
