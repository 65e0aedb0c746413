import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { InMemoryBroker, topicMatches } from "../src/InMemoryBroker.ts"
import * as Topology from "../src/Topology.ts"

describe("the in-memory broker", () => {
  it("matches routing keys as a RabbitMQ topic exchange does", () => {
    assert.isTrue(topicMatches("workstream.task.#", "workstream.task.created.v1"))
    assert.isTrue(topicMatches("workstream.task.#", "workstream.task"))
    assert.isTrue(topicMatches("workstream.*.created.v1", "workstream.task.created.v1"))
    assert.isFalse(topicMatches("workstream.*.created.v1", "workstream.task.x.created.v1"))
    assert.isFalse(topicMatches("workstream.task.#", "workstream.tasks.created.v1"))
    assert.isFalse(topicMatches("workstream.task.#", "other.task.created.v1"))
  })

  it.live(
    "dead-letters a message returned more than `deliveryLimit` times without an ack (the quorum queue's backstop)",
    () =>
      Effect.gen(function* () {
        const topology = Topology.make({ deliveryLimit: 3 })
        const broker = yield* InMemoryBroker
        const routed = yield* broker.publish({
          body: new TextEncoder().encode("{}"),
          messageId: "crashes-its-consumer",
          routingKey: "workstream.task.created.v1",
          headers: {},
          timestamp: 0
        })
        assert.isTrue(routed)
        const dieHolding = Effect.scoped(broker.consume(topology.queue.name, 1, () => undefined))
        for (let delivery = 1; delivery <= 3; delivery++) yield* dieHolding
        assert.strictEqual(yield* broker.depth(topology.queue.name), 1, "returned 3 times: still queued")
        // A consumer that takes the message and dies without settling it, a fourth time.
        yield* dieHolding
        assert.strictEqual(yield* broker.depth(topology.queue.name), 0)
        const dead = yield* broker.take(topology.deadLetterQueue.name)
        assert.deepStrictEqual(
          dead.map((m) => [m.messageId, m.headers["x-delivery-count"]]),
          [["crashes-its-consumer", 4]]
        )
      }).pipe(Effect.provide(InMemoryBroker.layer(Topology.make({ deliveryLimit: 3 }))))
  )

  it.live("works off a backlog with a consumer that acks at once, without growing the stack", () =>
    Effect.gen(function* () {
      const broker = yield* InMemoryBroker
      const { topology } = broker
      for (let n = 0; n < 20_000; n++) {
        yield* broker.publish({
          body: new Uint8Array(),
          messageId: `m${n}`,
          routingKey: "workstream.task.created.v1",
          headers: {},
          timestamp: 0
        })
      }
      let handled = 0
      yield* Effect.scoped(
        broker.consume(topology.queue.name, 20, ({ ack }) => {
          handled += 1
          ack()
        })
      )
      assert.strictEqual(handled, 20_000)
      assert.strictEqual(yield* broker.depth(topology.queue.name), 0)
    }).pipe(Effect.provide(InMemoryBroker.layer(Topology.make())))
  )
})
