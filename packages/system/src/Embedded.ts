/**
 * The whole system in one process, with no server to install: the three services exactly as
 * they run alone, talking real gRPC and HTTP to each other on 127.0.0.1, over PGlite for Postgres
 * and in-memory adapters for RabbitMQ, Redis and MongoDB (each passes the contract suite of the
 * real one). Each service is built on its own, so each keeps its own readiness and drains on its
 * own; the gateway stops first, and tasks stops before the Postgres it uses.
 */
import { GatewayConfig, GatewayServer } from "@workstream/gateway"
import { dedupeInMemory, NotificationsConfig, NotificationsServer, recordsInMemory } from "@workstream/notifications"
import { EventPublisher, EventSource, InMemoryBroker, ServiceConfig, Topology } from "@workstream/platform"
import { TasksConfig, TasksServer } from "@workstream/tasks"
import { ConfigProvider, Effect, Layer, Option, References, Result, type Scope } from "effect"
import * as EmbeddedPostgres from "./EmbeddedPostgres.ts"
import * as SystemConfig from "./SystemConfig.ts"

/** Where the running system can be reached. */
export interface Endpoints {
  readonly gateway: string
  readonly tasksGrpc: string
  readonly tasksHttp: string
  readonly notifications: string
  readonly postgres: string
}

/** A service's settings, read from the current configuration with these variables set over it. */
const withEnvironment = <A, E>(load: Effect.Effect<A, E>, overrides: Record<string, string>): Effect.Effect<A, E> =>
  Effect.gen(function* () {
    const current = yield* ConfigProvider.ConfigProvider
    return yield* Effect.provideService(
      load,
      ConfigProvider.ConfigProvider,
      ConfigProvider.orElse(ConfigProvider.fromEnv({ env: overrides }), current)
    )
  })

/** The settings of `pnpm start` itself and of the three services it runs. */
export interface Settings {
  readonly system: SystemConfig.SystemSettings
  readonly tasks: Effect.Success<typeof TasksConfig.TasksConfig.settings>
  readonly notifications: Effect.Success<typeof NotificationsConfig.load>
  readonly gateway: Effect.Success<typeof GatewayConfig.load>
}

/**
 * Every part's settings, read in one pass before anything starts, so one message names every bad
 * variable, whichever part reads it (DESIGN §6). The services read the same variables as in their
 * own processes, with the embedded mode's placement set over them.
 */
export const load: Effect.Effect<Settings, ServiceConfig.ConfigInvalid> = Effect.gen(function* () {
  const system = yield* Effect.result(SystemConfig.load)
  // Bad ports of its own must not hide the services' problems: they are then read placed anywhere valid.
  const place = Result.getOrElse(system, () => undefined)
  const port = (chosen: number | undefined) => String(chosen ?? 1)
  // One message for all of them; a variable every part reads (LOG_LEVEL) is named once.
  const [systemSettings, tasks, notifications, gateway] = yield* ServiceConfig.all([
    Effect.fromResult(system),
    withEnvironment(TasksConfig.TasksConfig.settings, {
      DATABASE_URL: EmbeddedPostgres.urlOf(place?.postgresPort ?? 1),
      AMQP_URL: "unused://in-memory-broker",
      GRPC_PORT: port(place?.tasksGrpcPort),
      HTTP_PORT: port(place?.tasksHttpPort)
    }),
    withEnvironment(NotificationsConfig.load, {
      AMQP_URL: "unused://in-memory-broker",
      REDIS_URL: "unused://in-memory",
      NOTIFICATION_STORE: "memory",
      HTTP_PORT: port(place?.notificationsPort)
    }),
    withEnvironment(GatewayConfig.load, {
      HTTP_PORT: port(place?.gatewayPort),
      TASKS_GRPC_TARGET: `127.0.0.1:${port(place?.tasksGrpcPort)}`
    })
  ])
  return { system: systemSettings, tasks, notifications, gateway }
})

/** Builds one service into the scope, its log lines marked with its name. */
const start = <E>(service: string, layer: Layer.Layer<never, E> | Layer.Layer<unknown, E>) =>
  Layer.build(layer.pipe(Layer.provide(Layer.succeed(References.CurrentLogAnnotations, { service })))).pipe(
    Effect.asVoid
  )

export const run = ({ system: settings, ...config }: Settings): Effect.Effect<Endpoints, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const bus = yield* Layer.build(InMemoryBroker.InMemoryBroker.layer(Topology.make()))

    // Postgres then tasks, beside notifications (which needs neither); the gateway last, so it is
    // the first to stop. Each part's finalizers still run in reverse of its own start.
    const tasks = Effect.gen(function* () {
      yield* EmbeddedPostgres.serve({
        port: settings.postgresPort,
        ...(Option.isSome(settings.dataDir) ? { dataDir: settings.dataDir.value } : {})
      })
      yield* start(
        "tasks",
        TasksServer.layer(config.tasks, {
          eventBus: {
            name: "event_bus",
            layer: EventPublisher.EventPublisher.layerInMemory.pipe(Layer.provide(Layer.succeedContext(bus)))
          }
        })
      )
    })

    const notifications = Effect.gen(function* () {
      const { prefetch, dedupeTtl, httpPort, memoryLimit } = config.notifications
      yield* start(
        "notifications",
        NotificationsServer.layerWith(
          {
            eventSource: EventSource.EventSource.layerInMemory({ prefetch }).pipe(
              Layer.provide(Layer.succeedContext(bus))
            ),
            dedupe: dedupeInMemory({ ttl: dedupeTtl, limit: memoryLimit }),
            records: recordsInMemory({ limit: memoryLimit }),
            names: { broker: "event_bus", dedupe: "dedupe" }
          },
          { httpPort, bounds: NotificationsServer.boundsOf(config.notifications) }
        )
      )
    })

    yield* Effect.all([tasks, notifications], { concurrency: 2, discard: true })

    yield* start("gateway", GatewayServer.layer(config.gateway))

    return {
      gateway: `http://127.0.0.1:${settings.gatewayPort}`,
      tasksGrpc: `127.0.0.1:${settings.tasksGrpcPort}`,
      tasksHttp: `http://127.0.0.1:${settings.tasksHttpPort}`,
      notifications: `http://127.0.0.1:${settings.notificationsPort}`,
      postgres: EmbeddedPostgres.urlOf(settings.postgresPort)
    }
  })
