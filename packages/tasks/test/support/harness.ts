/**
 * Runs a real tasks service for a test: its own Postgres database (created, then dropped),
 * its own prefixed RabbitMQ topology (declared, then removed), free ports, and a gRPC client.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { createServer } from "node:net"
import { PgClient } from "@effect/sql-pg"
import * as grpc from "@grpc/grpc-js"
import { Topology } from "@workstream/platform"
import { TasksServiceClient } from "@workstream/proto"
import amqp from "amqplib"
import { Context, Duration, Effect, Layer, Redacted, type Scope } from "effect"
import type { TasksSettings } from "../../src/TasksConfig.ts"
import * as TasksServer from "../../src/TasksServer.ts"
import { scratchDatabase } from "./database.ts"

export { type Received, takeMessages } from "./clients.ts"

export const AMQP_URL = process.env.TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"

const unique = () => randomBytes(5).toString("hex")

/** A free loopback port (the OS picks it; a tiny race with other processes is acceptable in tests). */
/** Whether nothing listens on this loopback port right now. */
const bindable = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const server = createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen(port, "0.0.0.0", () => server.close(() => resume(Effect.succeed(true))))
  })

/**
 * A free port for a test server. Chosen below Linux's ephemeral range (32768-60999), so the
 * outgoing connections of tests running beside it (Postgres, RabbitMQ, Redis clients) cannot
 * take it between this check and the server's bind, as they could a port the OS handed out.
 */
export const freePort: Effect.Effect<number> = Effect.gen(function* () {
  while (true) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (yield* bindable(port)) return port
  }
})

/** A fresh database on the local server for the scope's lifetime; its URL. */
export const freshDatabase = Effect.map(scratchDatabase, (database) => database.url)

export const settingsFor = (databaseUrl: string, overrides: Partial<TasksSettings> = {}) =>
  Effect.gen(function* () {
    const settings: TasksSettings = {
      databaseUrl: Redacted.make(databaseUrl),
      amqpUrl: Redacted.make(AMQP_URL),
      grpcPort: yield* freePort,
      httpPort: yield* freePort,
      logLevel: "Warn",
      idempotencyTtl: Duration.hours(24),
      databaseTimeout: Duration.seconds(5),
      relayBatchSize: 100,
      relayPollInterval: Duration.millis(200),
      relayPublishTimeout: Duration.seconds(10),
      outboxRetention: Duration.days(7),
      outboxLagBound: Duration.seconds(30)
    }
    return { ...settings, ...overrides }
  })

export interface RunningTasks {
  readonly settings: TasksSettings
  readonly client: TasksServiceClient
  readonly connectionName: string
}

/** Starts a tasks service in this process for the scope's lifetime. */
export const startTasks = (settings: TasksSettings, topology: Topology.Topology) =>
  Effect.gen(function* () {
    const connectionName = `ws-test-tasks-${unique()}`
    yield* Layer.build(TasksServer.layer(settings, { topology, connectionName }))
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => new TasksServiceClient(`127.0.0.1:${settings.grpcPort}`, grpc.credentials.createInsecure())),
      (c) => Effect.sync(() => c.close())
    )
    return { settings, client, connectionName } satisfies RunningTasks
  })

/** A topology with names of its own, removed from the broker when the scope closes. */
export const freshTopologyWith = (
  options: Omit<Topology.Options, "prefix"> = {}
): Effect.Effect<Topology.Topology, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const topology = Topology.make({ ...options, prefix: `test.${unique()}.` })
    yield* Effect.addFinalizer(() =>
      Effect.scoped(
        Effect.gen(function* () {
          const connection = yield* Effect.acquireRelease(
            Effect.tryPromise(() => amqp.connect(AMQP_URL)),
            (c) => Effect.promise(() => c.close())
          )
          const channel = yield* Effect.tryPromise(() => connection.createChannel())
          yield* Topology.remove(channel, topology)
        })
      ).pipe(Effect.ignore)
    )
    return topology
  })

export const freshTopology = freshTopologyWith()

/** One tasks service per test file, with everything it owns, for `layer(TasksUnderTest.layer)`. */
export class TasksUnderTest extends Context.Service<
  TasksUnderTest,
  RunningTasks & { readonly topology: Topology.Topology; readonly databaseUrl: string }
>()("test/TasksUnderTest") {
  static readonly layerWith = (overrides: Partial<TasksSettings> = {}) =>
    Layer.effect(
      TasksUnderTest,
      Effect.gen(function* () {
        const databaseUrl = yield* freshDatabase
        const topology = yield* freshTopology
        // Another test may bind the same free port in between: pick new ports and try again.
        const running = yield* Effect.flatMap(settingsFor(databaseUrl, overrides), (settings) =>
          startTasks(settings, topology)
        ).pipe(Effect.retry({ times: 3, while: (error) => String(error).includes("EADDRINUSE") }))
        return { ...running, topology, databaseUrl }
      })
    )
  static readonly layer = TasksUnderTest.layerWith()
}

/** A SqlClient on the service's own database, for asserting what it stored. */
export const databaseOf = (databaseUrl: string) => PgClient.layer({ url: Redacted.make(databaseUrl) })

interface Exited {
  readonly code: number | null
  readonly output: string
}

/** Runs a service's `main.ts` as `pnpm --filter <service> start` does, with exactly this environment. */
export const spawnService = (main: string, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH ?? "", ...env } })
      let output = ""
      child.stdout.on("data", (chunk) => {
        output += chunk
      })
      child.stderr.on("data", (chunk) => {
        output += chunk
      })
      const exited = new Promise<Exited>((resolve) => child.on("exit", (code) => resolve({ code, output })))
      return { child, exited, output: () => output }
    }),
    ({ child }) => Effect.sync(() => (child as ChildProcess).kill("SIGKILL"))
  )
