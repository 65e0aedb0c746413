import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schedule } from "effect"
import { AmqpConnection } from "../src/AmqpConnection.ts"
import { EventPublisher, type OutgoingMessage } from "../src/EventPublisher.ts"
import { adminChannel, drain, freshTopology, getMessage, publisherLayer, uniqueName } from "./support.ts"

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

const event = (n: number, routingKey = "workstream.task.created.v1"): OutgoingMessage => ({
  routingKey,
  body: JSON.stringify({ event_id: `e-${n}`, n }),
  messageId: `e-${n}`,
  headers: { traceparent: TRACEPARENT },
  timestamp: 1_790_000_000 + n
})

describe("EventPublisher (AMQP)", () => {
  it.live(
    "a batch arrives on the bound queue in order, persistent, with message id, headers and timestamp",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology()
        const channel = yield* adminChannel
        const batch = [1, 2, 3, 4, 5].map((n) => event(n, n % 2 === 0 ? "workstream.task.completed.v1" : undefined))
        yield* Effect.gen(function* () {
          const publisher = yield* EventPublisher
          assert.isTrue(yield* publisher.isReady)
          yield* publisher.publishBatch(batch)
        }).pipe(Effect.provide(publisherLayer(topology, uniqueName("publisher"))))

        const first = yield* getMessage(channel, topology.queue.name)
        const received = [first, ...(yield* drain(channel, topology.queue.name))]
        assert.deepStrictEqual(
          received.map((m) => m.properties.messageId),
          batch.map((m) => m.messageId)
        )
        received.forEach((message, i) => {
          const sent = batch[i]
          assert.strictEqual(message.content.toString("utf8"), sent?.body)
          assert.strictEqual(message.fields.routingKey, sent?.routingKey)
          assert.strictEqual(message.properties.deliveryMode, 2, "persistent")
          assert.strictEqual(message.properties.contentType, "application/json")
          assert.strictEqual(message.properties.timestamp, sent?.timestamp)
          assert.strictEqual(message.properties.headers?.traceparent, TRACEPARENT)
        })
      }),
    15_000
  )

  it.live(
    "an unroutable message fails the batch with PublishRejected naming only that message",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology()
        const exit = yield* Effect.gen(function* () {
          const publisher = yield* EventPublisher
          return yield* Effect.exit(publisher.publishBatch([event(1), event(2, "nobody.listens.here"), event(3)]))
        }).pipe(Effect.provide(publisherLayer(topology, uniqueName("publisher"))))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isSuccess(exit)) return
        const error = exit.cause.reasons[0]
        assert.strictEqual(error?._tag, "Fail")
        if (error?._tag !== "Fail") return
        assert.strictEqual(error.error._tag, "PublishRejected")
        if (error.error._tag !== "PublishRejected") return
        assert.deepStrictEqual(error.error.unroutable, ["e-2"])
        assert.deepStrictEqual(error.error.nacked, [])
        assert.deepStrictEqual(error.error.messageIds, ["e-2"])
      }),
    15_000
  )

  it.live(
    "messages the broker nacks fail the batch with PublishRejected naming them",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology()
        const channel = yield* adminChannel
        // A queue that takes one message and refuses the rest makes the broker nack them.
        const full = yield* Effect.tryPromise(() =>
          channel.assertQueue(uniqueName("full"), {
            exclusive: true,
            arguments: { "x-max-length": 1, "x-overflow": "reject-publish" }
          })
        )
        yield* Effect.tryPromise(() => channel.bindQueue(full.queue, topology.exchange, "overflow.#"))
        const error = yield* Effect.gen(function* () {
          const publisher = yield* EventPublisher
          return yield* Effect.flip(
            publisher.publishBatch([event(1, "overflow.x"), event(2, "overflow.x"), event(3, "overflow.x")])
          )
        }).pipe(Effect.provide(publisherLayer(topology, uniqueName("publisher"))))
        assert.strictEqual(error._tag, "PublishRejected")
        if (error._tag !== "PublishRejected") return
        assert.deepStrictEqual(error.nacked, ["e-2", "e-3"])
        assert.deepStrictEqual(error.unroutable, [])
      }),
    15_000
  )

  it.live(
    "a message amqplib cannot encode fails with MessageInvalid, and the channel stays usable",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology()
        const channel = yield* adminChannel
        yield* Effect.gen(function* () {
          const publisher = yield* EventPublisher
          // amqplib encodes a header table into a 64 KiB buffer.
          const oversized = { ...event(1), headers: { huge: "x".repeat(70_000) } }
          const error = yield* Effect.flip(publisher.publishBatch([oversized]))
          assert.strictEqual(error._tag, "MessageInvalid")
          if (error._tag !== "MessageInvalid") return
          assert.strictEqual(error.messageId, "e-1")
          yield* publisher.publishBatch([event(2)])
        }).pipe(Effect.provide(publisherLayer(topology, uniqueName("publisher"))))
        const received = yield* getMessage(channel, topology.queue.name)
        assert.strictEqual(received.properties.messageId, "e-2")
      }),
    15_000
  )

  it.live(
    "a batch not confirmed in time fails with PublishTimeout, and later batches go out on a fresh channel",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology()
        const channel = yield* adminChannel
        // 20 MB cannot be written and confirmed within 50 ms.
        const flood = Array.from({ length: 2_000 }, (_, n) => ({ ...event(n + 100), body: "x".repeat(10_000) }))
        yield* Effect.gen(function* () {
          const publisher = yield* EventPublisher
          const error = yield* Effect.flip(publisher.publishBatch(flood))
          assert.strictEqual(error._tag, "PublishTimeout")
          if (error._tag !== "PublishTimeout") return
          assert.strictEqual(error.messageIds.length, flood.length)
          yield* publisher
            .publishBatch([event(1)])
            .pipe(Effect.retry(Schedule.spaced("100 millis")), Effect.timeout("8 seconds"))
        }).pipe(Effect.provide(publisherLayer(topology, uniqueName("publisher"), "50 millis")))
        yield* Effect.tryPromise(() => channel.purgeQueue(topology.queue.name))
      }),
    15_000
  )

  it.live(
    "after its exchange is deleted under it, a batch fails with BrokerUnavailable and the next one re-declares and succeeds",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology()
        const channel = yield* adminChannel
        yield* Effect.gen(function* () {
          const publisher = yield* EventPublisher
          yield* Effect.tryPromise(() => channel.deleteExchange(topology.exchange))
          // Publishing to a missing exchange is a channel error (404): the channel closes mid-batch.
          const error = yield* Effect.flip(publisher.publishBatch([event(1)]))
          assert.strictEqual(error._tag, "BrokerUnavailable")
          yield* publisher
            .publishBatch([event(2)])
            .pipe(Effect.retry(Schedule.spaced("100 millis")), Effect.timeout("8 seconds"))
        }).pipe(Effect.provide(publisherLayer(topology, uniqueName("publisher"))))
        const received = yield* getMessage(channel, topology.queue.name)
        assert.strictEqual(received.properties.messageId, "e-2")
      }),
    15_000
  )

  it.live(
    "with the broker unreachable it starts not ready and answers a publish with BrokerUnavailable instead of waiting for the broker",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology()
        // Nothing listens on port 1: every attempt is refused at once.
        const unreachable = EventPublisher.layerAmqp({ topology }).pipe(
          Layer.provideMerge(
            AmqpConnection.layer({ url: "amqp://guest:guest@127.0.0.1:1", connectionName: uniqueName("unreachable") })
          )
        )
        yield* Effect.gen(function* () {
          const publisher = yield* EventPublisher
          const connection = yield* AmqpConnection
          assert.isFalse(yield* connection.isConnected)
          assert.isFalse(yield* publisher.isReady)
          yield* publisher.publishBatch([])
          // Refused at once for want of a channel, not after waiting for one (or for confirms).
          const error = yield* Effect.flip(publisher.publishBatch([event(1)]))
          assert.include(error._tag === "BrokerUnavailable" ? error.reason : error._tag, "no confirm channel")
        }).pipe(Effect.provide(unreachable))
      }),
    15_000
  )
})
