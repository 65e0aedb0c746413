import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as Topology from "../src/Topology.ts"
import { adminChannel, drain, freshTopology, getMessage, queueTypes, uniqueName } from "./support.ts"

describe("Topology.make", () => {
  it("names every exchange and queue after the prefix and wires each queue's dead letters", () => {
    const topology = Topology.make({ prefix: "p." })
    assert.strictEqual(topology.exchange, "p.workstream.events")
    assert.strictEqual(topology.exchangeType, "topic")
    assert.strictEqual(topology.bindingKey, "workstream.task.#")
    assert.deepStrictEqual(topology.queue, {
      name: "p.workstream.notifications",
      arguments: {
        "x-queue-type": "quorum",
        "x-delivery-limit": 20,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "p.workstream.notifications.dlq"
      }
    })
    assert.deepStrictEqual(topology.deadLetterQueue, {
      name: "p.workstream.notifications.dlq",
      arguments: { "x-queue-type": "quorum" }
    })
    assert.deepStrictEqual(
      topology.retryQueues.map((q) => q.name),
      ["1s", "5s", "15s", "30s", "60s"].map((d) => `p.workstream.notifications.retry.${d}`)
    )
    for (const retry of topology.retryQueues) {
      // Through the default exchange straight to the main queue, never back through the topic exchange.
      assert.deepStrictEqual(retry.arguments, {
        "x-queue-type": "quorum",
        "x-message-ttl": Duration.toMillis(retry.delay),
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "p.workstream.notifications"
      })
    }
  })

  it("without a prefix uses the names of DESIGN §4", () => {
    const topology = Topology.make()
    assert.strictEqual(topology.exchange, "workstream.events")
    assert.strictEqual(topology.queue.name, "workstream.notifications")
    assert.strictEqual(topology.deadLetterQueue.name, "workstream.notifications.dlq")
  })

  it("retryQueueFor gives the n-th delay's queue, then nothing once the delays are used up", () => {
    const topology = Topology.make({ retryDelays: [Duration.millis(1500), Duration.minutes(2)] })
    assert.strictEqual(Topology.retryQueueFor(topology, 1)?.name, "workstream.notifications.retry.1500ms")
    assert.strictEqual(Topology.retryQueueFor(topology, 2)?.name, "workstream.notifications.retry.120s")
    assert.isUndefined(Topology.retryQueueFor(topology, 3))
    assert.isUndefined(Topology.retryQueueFor(topology, 0))
  })
})

describe("Topology.declare on RabbitMQ", () => {
  it.live(
    "is idempotent, and RabbitMQ accepts every queue as a quorum queue",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology()
        const channel = yield* adminChannel
        yield* Topology.declare(channel, topology)
        yield* Topology.declare(channel, topology)
        const prefix = topology.exchange.slice(0, -"workstream.events".length)
        const types = yield* queueTypes(prefix)
        const names = [topology.queue, topology.deadLetterQueue, ...topology.retryQueues].map((q) => q.name)
        assert.deepStrictEqual([...types.keys()].sort(), [...names].sort())
        for (const name of names) assert.strictEqual(types.get(name), "quorum", name)
      }),
    15_000
  )

  it.live(
    "a message on a retry queue comes back to the main queue only, after the TTL, with x-death",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology({ retryDelays: [Duration.seconds(1)] })
        const channel = yield* adminChannel
        // A second queue on the exchange must not see the redelivery.
        const spy = yield* Effect.tryPromise(() => channel.assertQueue(uniqueName("spy"), { exclusive: true }))
        yield* Effect.tryPromise(() => channel.bindQueue(spy.queue, topology.exchange, "#"))
        const retry = topology.retryQueues[0]
        assert.isDefined(retry)
        if (retry === undefined) return
        channel.sendToQueue(retry.name, Buffer.from("{}"), {
          messageId: "m-1",
          persistent: true,
          headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
        })

        const message = yield* getMessage(channel, topology.queue.name, "8 seconds")
        assert.strictEqual(message.properties.messageId, "m-1")
        assert.strictEqual(message.fields.exchange, "", "dead-lettered through the default exchange")
        assert.strictEqual(
          message.properties.headers?.traceparent,
          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        )
        const death = message.properties.headers?.["x-death"]?.[0]
        assert.isDefined(death)
        assert.strictEqual(death?.queue, retry.name)
        assert.strictEqual(death?.reason, "expired")
        assert.strictEqual(death?.count, 1)
        assert.deepStrictEqual(yield* drain(channel, spy.queue), [])
      }),
    15_000
  )

  it.live(
    "a message delivered more often than the delivery limit lands in the DLQ",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology({ deliveryLimit: 2 })
        const channel = yield* adminChannel
        channel.sendToQueue(topology.queue.name, Buffer.from("{}"), { messageId: "poison", persistent: true })
        // Each nack with requeue is one more delivery; past the limit the queue dead-letters it.
        let deliveries = 0
        const dead = yield* Effect.gen(function* () {
          while (true) {
            const message = yield* Effect.tryPromise(() => channel.get(topology.queue.name, { noAck: false }))
            if (message !== false) {
              deliveries++
              channel.nack(message, false, true)
              continue
            }
            const dead = yield* Effect.tryPromise(() => channel.get(topology.deadLetterQueue.name, { noAck: true }))
            if (dead !== false) return dead
            yield* Effect.sleep("50 millis")
          }
        }).pipe(Effect.timeout("8 seconds"))
        assert.strictEqual(deliveries, 3, "limit 2: the third delivery is the last")
        assert.strictEqual(dead.properties.messageId, "poison")
        const death = dead.properties.headers?.["x-death"]?.[0]
        assert.strictEqual(death?.queue, topology.queue.name)
        assert.strictEqual(death?.reason, "delivery_limit")
        assert.deepStrictEqual(yield* drain(channel, topology.queue.name), [])
      }),
    15_000
  )
})
