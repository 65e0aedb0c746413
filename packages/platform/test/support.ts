/**
 * Helpers for tests against the machine's RabbitMQ, which other test runs share: unique names,
 * a plain amqplib channel to set up and inspect with, cleanup of a topology, and rabbitmqctl for
 * faults that touch only this test's own connection.
 */
import { execFile } from "node:child_process"
import { randomUUID } from "node:crypto"
import { createServer, type Socket } from "node:net"
import * as amqp from "amqplib"
import { Duration, Effect, Layer, Schema, type Scope } from "effect"
import { AmqpConnection } from "../src/AmqpConnection.ts"
import { EventPublisher } from "../src/EventPublisher.ts"
import * as Topology from "../src/Topology.ts"

export const AMQP_URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"

export const uniqueName = (what: string): string => `t-${what}-${randomUUID().slice(0, 8)}`

class TestSetupFailed extends Schema.TaggedError<TestSetupFailed>()("TestSetupFailed", { reason: Schema.String }) {}

const attempt = <A>(what: string, run: () => Promise<A>) =>
  Effect.tryPromise({
    try: run,
    catch: (cause) =>
      new TestSetupFailed({ reason: `${what}: ${cause instanceof Error ? cause.message : String(cause)}` })
  })

/** A plain channel on its own connection, closed with the scope. A channel error closes it: open another. */
export const adminChannel: Effect.Effect<amqp.Channel, TestSetupFailed, Scope.Scope> = Effect.gen(function* () {
  const model = yield* Effect.acquireRelease(
    attempt("connect", () => amqp.connect(AMQP_URL, { clientProperties: { connection_name: uniqueName("admin") } })),
    (model) => attempt("close", () => model.close()).pipe(Effect.ignore)
  )
  model.on("error", () => undefined)
  const channel = yield* attempt("open channel", () => model.createChannel())
  channel.on("error", () => undefined)
  return channel
})

/** A topology with fresh names, declared now and deleted (on a fresh channel) when the test's scope closes. */
export const freshTopology = (options: Omit<Topology.Options, "prefix"> = {}) =>
  Effect.gen(function* () {
    const topology = Topology.make({ ...options, prefix: `${uniqueName("ws")}.` })
    yield* Effect.addFinalizer(() =>
      Effect.scoped(Effect.flatMap(adminChannel, (channel) => Topology.remove(channel, topology))).pipe(Effect.ignore)
    )
    yield* Effect.scoped(Effect.flatMap(adminChannel, (channel) => Topology.declare(channel, topology)))
    return topology
  })

/** Polls a queue until a message is there (auto-acked), failing after `within`. */
export const getMessage = (channel: amqp.Channel, queue: string, within: Duration.Input = "5 seconds") =>
  Effect.gen(function* () {
    while (true) {
      const message = yield* attempt(`get from ${queue}`, () => channel.get(queue, { noAck: true }))
      if (message !== false) return message
      yield* Effect.sleep("50 millis")
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: within,
      orElse: () =>
        Effect.fail(
          new TestSetupFailed({
            reason: `nothing on ${queue} within ${Duration.format(Duration.fromInputUnsafe(within))}`
          })
        )
    })
  )

/** Every message on a queue now, in order (auto-acked). */
export const drain = (channel: amqp.Channel, queue: string) =>
  Effect.gen(function* () {
    const messages: Array<amqp.GetMessage> = []
    while (true) {
      const message = yield* attempt(`get from ${queue}`, () => channel.get(queue, { noAck: true }))
      if (message === false) return messages
      messages.push(message)
    }
  })

/** One `rabbitmqctl` command, bounded, its failure typed. */
export const rabbitmqctl = (...args: ReadonlyArray<string>) =>
  Effect.callback<string, TestSetupFailed>((resume) => {
    execFile("rabbitmqctl", ["-q", ...args], { timeout: 10_000 }, (error, stdout) => {
      resume(
        error === null
          ? Effect.succeed(stdout)
          : Effect.fail(new TestSetupFailed({ reason: `rabbitmqctl ${args.join(" ")}: ${error.message}` }))
      )
    })
  })

/** The broker-side pid of the connection carrying this `connection_name`, if it is open. */
export const connectionPid = (connectionName: string) =>
  Effect.map(rabbitmqctl("list_connections", "pid", "client_properties"), (out) => {
    const line = out.split("\n").find((l) => l.includes(`"${connectionName}"`))
    return line?.split("\t")[0]
  })

/** Closes only this test's connection from the broker side (never close_all_connections: the broker is shared). */
export const closeConnectionFromBroker = (connectionName: string) =>
  Effect.gen(function* () {
    const pid = yield* connectionPid(connectionName)
    if (pid === undefined) return yield* new TestSetupFailed({ reason: `no connection named ${connectionName}` })
    yield* rabbitmqctl("close_connection", pid, "test: closed from the broker side")
  })

/** name -> queue type for the queues whose names start with `prefix`. */
export const queueTypes = (prefix: string) =>
  Effect.map(rabbitmqctl("list_queues", "name", "type"), (out) => {
    const types = new Map<string, string>()
    for (const line of out.split("\n")) {
      const [name, type] = line.split("\t")
      if (name?.startsWith(prefix) && type !== undefined) types.set(name, type)
    }
    return types
  })

/** The AMQP adapter with its own named connection, for one test. */
export const publisherLayer = (
  topology: Topology.Topology,
  connectionName: string,
  confirmTimeout: Duration.Input = "3 seconds"
) =>
  EventPublisher.layerAmqp({ topology, confirmTimeout }).pipe(
    Layer.provideMerge(
      AmqpConnection.layer({
        url: AMQP_URL,
        connectionName,
        connectTimeout: "2 seconds",
        reconnectBase: "100 millis",
        reconnectCap: "1 second"
      })
    )
  )

/** A TCP server that accepts connections and never answers: a broker hung mid-handshake. Counts the attempts. */
export const silentServer = Effect.acquireRelease(
  Effect.callback<{ readonly port: number; readonly attempts: () => number; readonly close: () => void }>((resume) => {
    const sockets: Array<Socket> = []
    const server = createServer((socket) => void sockets.push(socket))
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(
        Effect.succeed({
          port,
          attempts: () => sockets.length,
          close: () => {
            for (const socket of sockets) socket.destroy()
            server.close()
          }
        })
      )
    })
  }),
  (server) => Effect.sync(server.close)
)
