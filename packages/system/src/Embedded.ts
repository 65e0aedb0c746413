/**
 * The whole system in one process, with no server to install: the three services exactly as
 * they run alone, talking real gRPC and HTTP to each other on 127.0.0.1, over PGlite for Postgres
 * and in-memory adapters for RabbitMQ, Redis and MongoDB (each passes the contract suite of the
 * real one). Each service is built on its own, so each keeps its own readiness and drains on its
 * own; the gateway stops first, and tasks stops before the Postgres it uses.
 */
import { GatewayConfig, GatewayServer } from "@workstream/gateway"
import { dedupeInMemory, NotificationsConfig, NotificationsServer, recordsInMemory } from "@workstream/notifications"
import { EventPublisher, EventSource, InMemoryBroker, Topology } from "@workstream/platform"
import { TasksConfig, TasksServer } from "@workstream/tasks"
import { ConfigProvider, Effect, Layer, Option, Redacted, References, type Scope } from "effect"
import * as EmbeddedPostgres from "./EmbeddedPostgres.ts"
import type { SystemSettings } from "./SystemConfig.ts"

/** Where the running system can be reached. */
export interface Endpoints {
  readonly gateway: string
  readonly tasksGrpc: string
  readonly tasksHttp: string
  readonly notifications: string
  readonly postgres: string
}

const definedOnly = (env: NodeJS.ProcessEnv): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined))

/** A service's settings, read from the environment with these variables set over it. */
const withEnvironment = <A, E>(load: Effect.Effect<A, E>, overrides: Record<string, string>) =>
  Effect.provideService(
    load,
    ConfigProvider.ConfigProvider,
    ConfigProvider.fromEnv({ env: { ...definedOnly(process.env), ...overrides } })
  )

/** Builds one service into the scope, its log lines marked with its name. */
const start = <E>(service: string, layer: Layer.Layer<never, E> | Layer.Layer<unknown, E>) =>
  Layer.build(layer.pipe(Layer.provide(Layer.succeed(References.CurrentLogAnnotations, { service })))).pipe(
    Effect.asVoid
  )

export const run = (settings: SystemSettings): Effect.Effect<Endpoints, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const bus = yield* Layer.build(InMemoryBroker.InMemoryBroker.layer(Topology.make()))

    // Postgres then tasks, beside notifications (which needs neither); the gateway last, so it is
    // the first to stop. Each part's finalizers still run in reverse of its own start.
    const tasks = Effect.gen(function* () {
      const databaseUrl = yield* EmbeddedPostgres.serve({
        port: settings.postgresPort,
        ...(Option.isSome(settings.dataDir) ? { dataDir: settings.dataDir.value } : {})
      })
      const config = yield* withEnvironment(TasksConfig.TasksConfig.settings, {
        DATABASE_URL: Redacted.value(databaseUrl),
        AMQP_URL: "unused://in-memory-broker",
        GRPC_PORT: String(settings.tasksGrpcPort),
        HTTP_PORT: String(settings.tasksHttpPort)
      })
      yield* start(
        "tasks",
        TasksServer.layer(config, {
          eventBus: {
            name: "event_bus",
            layer: EventPublisher.EventPublisher.layerInMemory.pipe(Layer.provide(Layer.succeedContext(bus)))
          }
        })
      )
    })

    const notifications = Effect.gen(function* () {
      const config = yield* withEnvironment(NotificationsConfig.load, {
        AMQP_URL: "unused://in-memory-broker",
        REDIS_URL: "unused://in-memory",
        NOTIFICATION_STORE: "memory",
        HTTP_PORT: String(settings.notificationsPort)
      })
      yield* start(
        "notifications",
        NotificationsServer.layerWith(
          {
            eventSource: EventSource.EventSource.layerInMemory({ prefetch: config.prefetch }).pipe(
              Layer.provide(Layer.succeedContext(bus))
            ),
            dedupe: dedupeInMemory({ ttl: config.dedupeTtl }),
            records: recordsInMemory,
            names: { broker: "event_bus", dedupe: "dedupe" }
          },
          { httpPort: config.httpPort, bounds: NotificationsServer.boundsOf(config) }
        )
      )
    })

    yield* Effect.all([tasks, notifications], { concurrency: 2, discard: true })

    const gateway = yield* withEnvironment(GatewayConfig.load, {
      HTTP_PORT: String(settings.gatewayPort),
      TASKS_GRPC_TARGET: `127.0.0.1:${settings.tasksGrpcPort}`
    })
    yield* start("gateway", GatewayServer.layer(gateway))

    return {
      gateway: `http://127.0.0.1:${settings.gatewayPort}`,
      tasksGrpc: `127.0.0.1:${settings.tasksGrpcPort}`,
      tasksHttp: `http://127.0.0.1:${settings.tasksHttpPort}`,
      notifications: `http://127.0.0.1:${settings.notificationsPort}`,
      postgres: `postgres://postgres@127.0.0.1:${settings.postgresPort}/postgres`
    }
  })
