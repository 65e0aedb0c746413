/**
 * One contract for both event bus adapters (RabbitMQ and the embedded in-memory broker), in the
 * spirit of watermill's universal Pub/Sub tests: what the outbox relay and the notifications
 * consumer rely on, asserted the same way against each.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, type Layer, Queue, Schedule, Scope } from "effect"
import { EventPublisher, type OutgoingMessage } from "../../src/EventPublisher.ts"
import { type Delivery, EventSource } from "../../src/EventSource.ts"

export interface WaitingMessage {
  readonly messageId: string
  readonly body: string
  readonly headers: Readonly<Record<string, unknown>>
}

/** Reads what waits on a queue, taking it off: how a test sees the DLQ. */
export class QueueReader extends Context.Service<
  QueueReader,
  { readonly takeAll: (queue: string) => Effect.Effect<ReadonlyArray<WaitingMessage>, unknown> }
>()("test/QueueReader") {}

export type Bus = EventPublisher | EventSource | QueueReader

const ROUTING_KEY = "workstream.task.created.v1"

const message = (n: number, routingKey = ROUTING_KEY): OutgoingMessage => ({
  routingKey,
  body: JSON.stringify({ n }),
  messageId: `${n}-${randomUUID()}`,
  headers: { traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01` }
})

const publish = (...messages: ReadonlyArray<OutgoingMessage>) =>
  Effect.flatMap(Effect.service(EventPublisher), (publisher) => publisher.publishBatch(messages))

/** Consumes into a queue of deliveries until the returned scope is closed; `handle` decides each fate. */
const consume = (handle: (delivery: Delivery) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const source = yield* EventSource
    const scope = yield* Scope.make()
    yield* source.consume(handle).pipe(Scope.provide(scope))
    return { stop: Scope.close(scope, Exit.void) }
  })

/** Consumes, handing each delivery to a queue for the test to take, acking at once. */
const collect = Effect.gen(function* () {
  const received = yield* Queue.unbounded<Delivery>()
  const consumer = yield* consume((delivery) => Effect.andThen(delivery.ack, Queue.offer(received, delivery)))
  return { received, ...consumer }
})

const takeWithin = (queue: Queue.Queue<Delivery>, within: Duration.Input = "10 seconds") =>
  Queue.take(queue).pipe(Effect.timeoutOrElse({ duration: within, orElse: () => Effect.fail("nothing arrived") }))

/** `make` builds a bus of its own for each test (fresh names on a shared broker), its consumers at `prefetch`. */
export const contract = (adapter: string, make: (prefetch: number) => Layer.Layer<Bus, unknown>) =>
  describe(`the event bus contract: ${adapter}`, () => {
    const withBus = <A, E>(body: Effect.Effect<A, E, Bus | Scope.Scope>, prefetch = 1) =>
      Effect.scoped(Effect.provide(body, make(prefetch)))

    it.live("delivers a confirmed batch in order, with message id, routing key and headers", () =>
      withBus(
        Effect.gen(function* () {
          const { received } = yield* collect
          const sent = [message(1), message(2), message(3)]
          yield* publish(...sent)
          for (const expected of sent) {
            const delivery = yield* takeWithin(received)
            assert.strictEqual(delivery.messageId, expected.messageId)
            assert.strictEqual(delivery.body, expected.body)
            assert.strictEqual(delivery.routingKey, ROUTING_KEY)
            assert.strictEqual(delivery.headers.traceparent, expected.headers.traceparent)
            assert.isFalse(delivery.redelivered)
          }
        })
      )
    )

    it.live("refuses a message no queue is bound for, naming it, and still delivers the rest", () =>
      withBus(
        Effect.gen(function* () {
          const { received } = yield* collect
          const lost = message(2, "nobody.listens.here")
          const exit = yield* Effect.exit(publish(message(1), lost))
          assert.isTrue(Exit.isFailure(exit))
          assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), lost.messageId)
          assert.notStrictEqual((yield* takeWithin(received)).messageId, lost.messageId)
        })
      )
    )

    it.live("redelivers a message that was never acked once its consumer goes away", () =>
      withBus(
        Effect.gen(function* () {
          const first = yield* Deferred.make<string>()
          const holding = yield* consume((delivery) => Effect.asVoid(Deferred.succeed(first, delivery.messageId)))
          const sent = message(1)
          yield* publish(sent)
          assert.strictEqual(yield* Deferred.await(first), sent.messageId)
          yield* holding.stop
          const { received } = yield* collect
          const again = yield* takeWithin(received)
          assert.strictEqual(again.messageId, sent.messageId)
          assert.isTrue(again.redelivered, "a redelivery says so: it may have been handled already")
        })
      )
    )

    it.live("hands a message back at once when its handler fails before acking, to the same running consumer", () =>
      withBus(
        Effect.gen(function* () {
          const received = yield* Queue.unbounded<Delivery>()
          let attempts = 0
          yield* consume((delivery) => {
            attempts += 1
            // The first run fails as a handler can (a defect, here); the second acks.
            return attempts === 1
              ? Effect.die("handler failed")
              : Effect.andThen(delivery.ack, Queue.offer(received, delivery))
          })
          const sent = message(1)
          yield* publish(sent)
          const again = yield* takeWithin(received, "5 seconds")
          assert.strictEqual(again.messageId, sent.messageId)
          assert.isTrue(again.redelivered)
          assert.strictEqual(attempts, 2)
        })
      )
    )

    it.live("hands a copy on a retry queue back to the consumer after the queue's delay, headers added", () =>
      withBus(
        Effect.gen(function* () {
          const source = yield* EventSource
          const retry = source.topology.retryQueues[0]
          if (retry === undefined) return assert.fail("the test topology has retry queues")
          const received = yield* Queue.unbounded<{ readonly delivery: Delivery; readonly at: number }>()
          yield* consume((delivery) =>
            Effect.gen(function* () {
              yield* Queue.offer(received, { delivery, at: Date.now() })
              if (delivery.headers["x-attempt"] === undefined) yield* delivery.copyTo(retry.name, { "x-attempt": 1 })
              yield* delivery.ack
            }).pipe(Effect.orDie)
          )
          const sent = message(1)
          yield* publish(sent)
          const first = yield* Queue.take(received)
          const again = yield* Queue.take(received).pipe(Effect.timeout("10 seconds"))
          assert.strictEqual(again.delivery.messageId, sent.messageId)
          assert.strictEqual(again.delivery.body, sent.body)
          assert.strictEqual(again.delivery.headers["x-attempt"], 1)
          assert.isAtLeast(again.at - first.at, Duration.toMillis(retry.delay) * 0.9, "not before the delay")
        })
      )
    )

    it.live("keeps a dead-lettered copy, with its headers, on the DLQ", () =>
      withBus(
        Effect.gen(function* () {
          const source = yield* EventSource
          const done = yield* Deferred.make<void>()
          yield* consume((delivery) =>
            delivery
              .copyTo(source.topology.deadLetterQueue.name, { "x-reason": "poison" })
              .pipe(Effect.andThen(delivery.ack), Effect.andThen(Deferred.succeed(done, undefined)), Effect.orDie)
          )
          const sent = message(1)
          yield* publish(sent)
          yield* Deferred.await(done)
          const reader = yield* QueueReader
          const dead = yield* reader.takeAll(source.topology.deadLetterQueue.name).pipe(
            Effect.filterOrFail((messages) => messages.length > 0),
            Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 50 })))
          )
          assert.strictEqual(dead.length, 1)
          assert.strictEqual(dead[0]?.messageId, sent.messageId)
          assert.strictEqual(dead[0]?.body, sent.body)
          assert.strictEqual(dead[0]?.headers["x-reason"], "poison")
          assert.strictEqual(dead[0]?.headers.traceparent, sent.headers.traceparent)
        })
      )
    )

    it.live(
      "on close, lets the handler in flight finish and ack, and leaves the messages not yet delivered for the next consumer",
      () =>
        withBus(
          Effect.gen(function* () {
            const started = yield* Deferred.make<string>()
            const acked: Array<string> = []
            const slow = yield* consume((delivery) =>
              Effect.gen(function* () {
                yield* Deferred.succeed(started, delivery.messageId)
                yield* Effect.sleep("300 millis")
                yield* delivery.ack
                acked.push(delivery.messageId)
              })
            )
            const sent = [message(1), message(2), message(3)]
            yield* publish(...sent)
            const inFlight = yield* Deferred.await(started)
            yield* slow.stop
            assert.include(acked, inFlight, "the message in flight was acked before the close returned")

            const { received } = yield* collect
            const seen = new Set(acked)
            while (seen.size < sent.length) seen.add((yield* takeWithin(received)).messageId)
            assert.sameMembers(
              [...seen],
              sent.map((m) => m.messageId)
            )
            const redelivered = yield* Queue.take(received).pipe(Effect.timeoutOption("500 millis"))
            assert.isTrue(redelivered._tag === "None", "an acked message is not delivered again")
          })
        )
    )

    it.live(
      "frees the slot of a message acked behind one still in hand, and acks none twice (the channel stays open)",
      () =>
        withBus(
          Effect.gen(function* () {
            const releaseFirst = yield* Deferred.make<void>()
            const releaseLast = yield* Deferred.make<void>()
            const received = yield* Queue.unbounded<Delivery>()
            const sent = [message(1), message(2), message(3), message(4), message(5)]
            const [first, , , , last] = sent
            let lastDeliveries = 0
            // The first message is held until released, the last until the end; the others are acked as they come.
            const consumer = yield* consume((delivery) =>
              Effect.gen(function* () {
                if (delivery.messageId === first?.messageId) yield* Deferred.await(releaseFirst)
                if (delivery.messageId === last?.messageId) {
                  lastDeliveries += 1
                  yield* Deferred.await(releaseLast)
                }
                yield* delivery.ack
                yield* Queue.offer(received, delivery)
              })
            )
            yield* publish(...sent)
            // Two slots: the third and fourth arrive only if the second's ack went while the first was held.
            const early = [yield* takeWithin(received), yield* takeWithin(received), yield* takeWithin(received)]
            assert.deepStrictEqual(
              early.map((d) => d.messageId),
              sent.slice(1, 4).map((m) => m.messageId)
            )
            yield* Deferred.succeed(releaseFirst, undefined)
            assert.strictEqual((yield* takeWithin(received)).messageId, first?.messageId)
            // An ack the broker was not waiting for would close the channel, and the last message,
            // still unacked, would come back to the handler.
            yield* Effect.sleep("500 millis")
            assert.strictEqual(lastDeliveries, 1, "the channel stayed open: the held message was not handed back")
            yield* Deferred.succeed(releaseLast, undefined)
            assert.strictEqual((yield* takeWithin(received)).messageId, last?.messageId)
            yield* consumer.stop
            const next = yield* collect
            const again = yield* Queue.take(next.received).pipe(Effect.timeoutOption("500 millis"))
            assert.isTrue(again._tag === "None", "an acked message is not delivered again")
          }),
          2
        )
    )
  })
