import { setImmediate as nextTurn } from "node:timers/promises"
import { assert, describe, it } from "@effect/vitest"
import type { Channel, ConsumeMessage } from "amqplib"
import { Arbitrary, Schema } from "effect"
import { coalescedAcks } from "../src/internal/coalescedAcks.ts"

/** What a channel was asked to send, in order: `ack 3+` is an ack with `multiple`. */
const recording = () => {
  const sent: Array<string> = []
  const channel = {
    ack: (message: ConsumeMessage, allUpTo?: boolean) =>
      sent.push(`ack ${message.fields.deliveryTag}${allUpTo ? "+" : ""}`),
    nack: (message: ConsumeMessage) => sent.push(`requeue ${message.fields.deliveryTag}`)
  } as unknown as Channel
  return { sent, channel }
}

const delivery = (deliveryTag: number) => ({ fields: { deliveryTag } }) as ConsumeMessage

/**
 * The broker's side of a channel, as RabbitMQ keeps it: an ack or requeue of a tag it is not
 * waiting for closes the channel (PRECONDITION_FAILED), and an ack with `multiple` covers every
 * unacked tag up to it, so it must never cover one the consumer has not settled.
 */
const broker = () => {
  const unacked = new Set<number>()
  const settledByConsumer = new Set<number>()
  const channel = {
    ack: (message: ConsumeMessage, allUpTo?: boolean) => {
      const tag = message.fields.deliveryTag
      assert.isTrue(unacked.has(tag), `ack of unknown delivery tag ${tag}`)
      for (const t of allUpTo ? [...unacked].filter((t) => t <= tag) : [tag]) {
        assert.isTrue(settledByConsumer.has(t), `ack covered ${t}, still in hand`)
        unacked.delete(t)
      }
    },
    nack: (message: ConsumeMessage) => {
      assert.isTrue(unacked.delete(message.fields.deliveryTag), "requeue of an unknown delivery tag")
    }
  } as unknown as Channel
  return { unacked, settledByConsumer, channel }
}

const step = Arbitrary.schema(
  Schema.Struct({
    action: Schema.Literals(["deliver", "ack", "requeue", "turn"]),
    which: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(1000))
  })
)

describe("coalescedAcks", () => {
  it("acks the messages settled in one turn with one ack of the last, at the turn's end", async () => {
    const { sent, channel } = recording()
    const acks = coalescedAcks(channel)
    const settled = [1, 2, 3].map((tag) => acks.deliver(delivery(tag)))
    for (const s of settled) s.ack()
    assert.deepStrictEqual(sent, [], "nothing before the turn ends")
    await nextTurn()
    assert.deepStrictEqual(sent, ["ack 3+"])
  })

  it("acks one settled behind a message in hand alone, and later covers the rest without acking it again", async () => {
    const { sent, channel } = recording()
    const acks = coalescedAcks(channel)
    const [first, second, third, fourth] = [1, 2, 3, 4].map((tag) => acks.deliver(delivery(tag)))
    third?.ack()
    await nextTurn()
    assert.deepStrictEqual(sent, ["ack 3"])
    second?.ack()
    first?.ack()
    fourth?.ack()
    await nextTurn()
    assert.deepStrictEqual(sent, ["ack 3", "ack 4+"])
  })

  it("while one message is held for several turns, acks each one behind it once, then goes on past them", async () => {
    const { sent, channel } = recording()
    const acks = coalescedAcks(channel)
    const [slow, ...quick] = [1, 2, 3, 4, 5, 6].map((tag) => acks.deliver(delivery(tag)))
    for (const turn of [quick.slice(0, 2), quick.slice(2)]) {
      for (const s of turn) s.ack()
      await nextTurn()
    }
    assert.deepStrictEqual(sent, ["ack 2", "ack 3", "ack 4", "ack 5", "ack 6"])
    slow?.ack()
    acks.deliver(delivery(7)).ack()
    await nextTurn()
    assert.deepStrictEqual(sent.slice(5), ["ack 7+"], "one ack covers the slow one and the next")
    acks.deliver(delivery(8)).ack()
    await nextTurn()
    assert.deepStrictEqual(sent.slice(6), ["ack 8+"])
  })

  it.prop(
    "whatever the order of deliveries, acks, requeues and turns, every tag is settled once and none in hand is covered",
    [Arbitrary.array(step, { maxLength: 200 })],
    ([steps]) => {
      const { unacked, settledByConsumer, channel } = broker()
      const acks = coalescedAcks(channel)
      const handles: Array<{ readonly tag: number; readonly ack: () => void; readonly requeue: () => void }> = []
      const requeued = new Set<number>()
      for (const { action, which } of steps) {
        if (action === "deliver") {
          const tag = handles.length + 1
          unacked.add(tag)
          handles.push({ tag, ...acks.deliver(delivery(tag)) })
        } else if (action === "turn") {
          acks.flush()
        } else {
          // Any handle, settled ones included: a second call must change nothing.
          const handle = handles[which % Math.max(1, handles.length)]
          if (handle === undefined) continue
          const first = !settledByConsumer.has(handle.tag) && !requeued.has(handle.tag)
          if (action === "ack") {
            if (first) settledByConsumer.add(handle.tag)
            handle.ack()
          } else {
            if (first) requeued.add(handle.tag)
            handle.requeue()
          }
        }
      }
      acks.flush()
      const inHand = handles.map((h) => h.tag).filter((tag) => !settledByConsumer.has(tag) && !requeued.has(tag))
      assert.sameMembers([...unacked], inHand, "only the messages still in hand are unacked")
    }
  )

  it("requeues at once, and an ack after it still goes out", async () => {
    const { sent, channel } = recording()
    const acks = coalescedAcks(channel)
    const [first, second] = [1, 2].map((tag) => acks.deliver(delivery(tag)))
    first?.requeue()
    assert.deepStrictEqual(sent, ["requeue 1"])
    second?.ack()
    await nextTurn()
    assert.deepStrictEqual(sent, ["requeue 1", "ack 2+"])
  })

  it("sends what is settled when flushed, before the turn ends (the channel is about to close)", () => {
    const { sent, channel } = recording()
    const acks = coalescedAcks(channel)
    acks.deliver(delivery(7)).ack()
    acks.flush()
    assert.deepStrictEqual(sent, ["ack 7+"])
  })

  it("survives a channel that has closed (amqplib throws): its messages come back anyway", async () => {
    const channel = {
      ack: () => {
        throw new Error("Channel closed")
      }
    } as unknown as Channel
    const acks = coalescedAcks(channel)
    acks.deliver(delivery(1)).ack()
    await nextTurn() // a throw in the turn's flush would fail the run as an uncaught error
    acks.deliver(delivery(2)).ack()
    assert.doesNotThrow(() => acks.flush())
  })
})
