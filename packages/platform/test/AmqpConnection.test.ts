import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Option, Schedule, Stream } from "effect"
import { AmqpConnection } from "../src/AmqpConnection.ts"
import { EventPublisher } from "../src/EventPublisher.ts"
import {
  AMQP_URL,
  adminChannel,
  closeConnectionFromBroker,
  connectionPid,
  drain,
  freshTopology,
  getMessage,
  publisherLayer,
  silentServer,
  uniqueName
} from "./support.ts"

const event = (id: string) => ({
  routingKey: "workstream.task.created.v1",
  body: JSON.stringify({ event_id: id }),
  messageId: id,
  headers: {}
})

/** Polls until `check` holds, for at most `within`. */
const eventually = (check: Effect.Effect<boolean, unknown>, within: Duration.Input = "5 seconds") =>
  check.pipe(
    Effect.filterOrFail((ok) => ok),
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeout(within)
  )

describe("AmqpConnection", () => {
  it.live(
    "an attempt that hangs is cut off by the connect timeout and retried; the service starts not connected",
    () =>
      Effect.gen(function* () {
        const server = yield* silentServer
        // The server never answers: a start that waited for a connection would never get here, and
        // an attempt never cut off would never be followed by another.
        yield* Effect.gen(function* () {
          const connection = yield* AmqpConnection
          assert.isFalse(yield* connection.isConnected)
          const error = yield* Effect.flip(connection.get)
          assert.strictEqual(error._tag, "BrokerUnavailable")
          yield* eventually(Effect.sync(() => server.attempts() >= 3))
        }).pipe(
          Effect.provide(
            AmqpConnection.layer({
              url: `amqp://guest:guest@127.0.0.1:${server.port}`,
              connectionName: uniqueName("hung"),
              connectTimeout: "300 millis",
              reconnectBase: "50 millis",
              reconnectCap: "200 millis"
            })
          )
        )
      }),
    15_000
  )

  it.live(
    "connects under its connection_name and closes with its scope",
    () =>
      Effect.gen(function* () {
        const connectionName = uniqueName("conn")
        yield* Effect.gen(function* () {
          const connection = yield* AmqpConnection
          assert.isTrue(yield* connection.isConnected)
          assert.isTrue(Option.isSome(yield* connection.current))
          assert.isDefined(yield* connectionPid(connectionName), "visible to rabbitmqctl")
        }).pipe(Effect.provide(AmqpConnection.layer({ url: AMQP_URL, connectionName })))
        // The layer is released here: the broker no longer lists the connection.
        yield* eventually(Effect.map(connectionPid(connectionName), (pid) => pid === undefined))
      }),
    15_000
  )

  it.live(
    "recovers after the broker closes the connection, and publishing works again",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology()
        const channel = yield* adminChannel
        const connectionName = uniqueName("recover")
        yield* Effect.gen(function* () {
          const connection = yield* AmqpConnection
          const publisher = yield* EventPublisher
          const before = yield* connection.get
          yield* publisher.publishBatch([event("before")])

          yield* closeConnectionFromBroker(connectionName)
          // Every reconnect shows in `changes`: a new connection, not the closed one.
          const after = yield* connection.changes.pipe(
            Stream.filter((model) => Option.isSome(model) && model.value !== before),
            Stream.runHead,
            Effect.timeout("8 seconds")
          )
          assert.isTrue(Option.isSome(after))

          // The caller's own retry, as the outbox relay does it.
          yield* publisher
            .publishBatch([event("after")])
            .pipe(Effect.retry(Schedule.spaced("100 millis")), Effect.timeout("8 seconds"))
          assert.isTrue(yield* publisher.isReady)
        }).pipe(Effect.provide(publisherLayer(topology, connectionName)))

        const first = yield* getMessage(channel, topology.queue.name)
        const rest = yield* drain(channel, topology.queue.name)
        assert.deepStrictEqual(
          [first, ...rest].map((m) => m.properties.messageId),
          ["before", "after"]
        )
      }),
    15_000
  )
})
