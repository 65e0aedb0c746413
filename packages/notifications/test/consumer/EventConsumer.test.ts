import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { encodeEvent } from "@workstream/domain"
import { AmqpConnection, EventPublisher, EventSource, Logging, type Topology } from "@workstream/platform"
import { closeConnectionFromBroker } from "@workstream/platform/testing"
import { freshTopologyWith, takeMessages } from "@workstream/tasks/testing"
import amqp from "amqplib"
import { Duration, Effect, Exit, Layer, Logger, Option, Redacted, Ref, Schedule, Scope } from "effect"
import { Redis } from "ioredis"
import * as EventConsumer from "../../src/consumer/EventConsumer.ts"
import {
  DedupeStore,
  type DedupeUnavailable,
  dedupeInRedis,
  NotificationRecords,
  recordsInMemory,
  StoreUnavailable
} from "../../src/index.ts"
import { replay } from "../../src/replay/DlqReplay.ts"
import { createdEvent } from "../events.ts"

const AMQP_URL = process.env.TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"
const unique = () => randomBytes(5).toString("hex")
const DEDUPE_PREFIX = `test:${unique()}:`

/** Deletes this file's dedupe keys, as a Redis restart without persistence would. */
const flushDedupe = async () => {
  const redis = new Redis(REDIS_URL)
  try {
    const keys = await redis.keys(`${DEDUPE_PREFIX}*`)
    if (keys.length > 0) await redis.del(...keys)
  } finally {
    redis.disconnect()
  }
}

/** A store whose first `failures` record calls fail, as a Mongo outage would. */
const flakyRecords = (failures: number) =>
  Layer.effect(
    NotificationRecords,
    Effect.gen(function* () {
      const real = yield* NotificationRecords
      const calls = yield* Ref.make(0)
      return NotificationRecords.of({
        ...real,
        record: (record) =>
          Effect.flatMap(
            Ref.getAndUpdate(calls, (n) => n + 1),
            (n) =>
              n < failures
                ? Effect.fail(new StoreUnavailable({ operation: "record", cause: "down" }))
                : real.record(record)
          )
      })
    })
  ).pipe(Layer.provide(recordsInMemory()))

/**
 * A crash before the ack, once: the first run does `before`, then cuts the consumer's connection
 * from the broker side and dies there; every later run does nothing.
 */
const crashOnce = (connectionName: string, before: Effect.Effect<void> = Effect.void) =>
  Effect.map(Ref.make(false), (crashed) =>
    Effect.flatMap(Ref.getAndSet(crashed, true), (already) =>
      already
        ? Effect.void
        : before.pipe(
            Effect.andThen(closeConnectionFromBroker(connectionName)),
            Effect.orDie,
            Effect.andThen(Effect.interrupt)
          )
    )
  )

/** A store that crashes the first time it has recorded, before the dedupe mark and the ack. */
const recordsThenCrash = (connectionName: string) =>
  Layer.effect(
    NotificationRecords,
    Effect.gen(function* () {
      const real = yield* NotificationRecords
      const crash = yield* crashOnce(connectionName)
      return NotificationRecords.of({ ...real, record: (record) => Effect.tap(real.record(record), () => crash) })
    })
  ).pipe(Layer.provide(recordsInMemory()))

/** A store that takes a while per record, so that several messages are in flight at once. */
const slowRecords = Layer.effect(
  NotificationRecords,
  Effect.map(Effect.service(NotificationRecords), (real) =>
    NotificationRecords.of({
      ...real,
      record: (record) => Effect.andThen(Effect.sleep("20 millis"), real.record(record))
    })
  )
).pipe(Layer.provide(recordsInMemory()))

/**
 * A dedupe store that crashes the first time it has marked an event, before the ack: the broker
 * redelivers an event that was fully processed. With `flush`, the keys are gone too before the
 * redelivery (a Redis restart). It counts the fast path's hits.
 */
const markThenCrash = (options: { readonly flush: boolean }) => {
  let hits = 0
  const around = (connectionName: string) => (real: Layer.Layer<DedupeStore, DedupeUnavailable>) =>
    Layer.effect(
      DedupeStore,
      Effect.gen(function* () {
        const store = yield* DedupeStore
        const crash = yield* crashOnce(connectionName, options.flush ? Effect.promise(flushDedupe) : Effect.void)
        return DedupeStore.of({
          seen: (eventId) => Effect.tap(store.seen(eventId), (seen) => Effect.sync(() => (hits += seen ? 1 : 0))),
          markProcessed: (eventId) => Effect.andThen(store.markProcessed(eventId), crash)
        })
      })
    ).pipe(Layer.provide(real))
  return { around, hits: () => hits }
}

/** The in-memory store, counting its record calls: whether the store was asked at all. */
const countingRecords = () => {
  let calls = 0
  const layer = Layer.effect(
    NotificationRecords,
    Effect.map(Effect.service(NotificationRecords), (real) =>
      NotificationRecords.of({
        ...real,
        record: (record) =>
          Effect.andThen(
            Effect.sync(() => void calls++),
            real.record(record)
          )
      })
    )
  ).pipe(Layer.provide(recordsInMemory()))
  return { layer, calls: () => calls }
}

/** Consumer, publisher and stores on a topology of their own, with short retry delays. */
const system = (
  topology: Topology.Topology,
  records: Layer.Layer<NotificationRecords> = recordsInMemory(),
  connectionName = `ws-test-consumer-${unique()}`,
  dedupe: (real: Layer.Layer<DedupeStore, DedupeUnavailable>) => Layer.Layer<DedupeStore, DedupeUnavailable> = (real) =>
    real
) => {
  const connection = AmqpConnection.AmqpConnection.layer({ url: AMQP_URL, connectionName })
  const stores = Layer.mergeAll(
    records,
    dedupe(dedupeInRedis({ url: Redacted.make(REDIS_URL), ttl: Duration.minutes(5), prefix: DEDUPE_PREFIX }))
  )
  const consumer = EventConsumer.layer({
    inPlaceRetry: Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 1 }))
  })
  const live = Layer.mergeAll(consumer, EventPublisher.EventPublisher.layerAmqp({ topology })).pipe(
    Layer.provideMerge(Layer.mergeAll(stores, EventSource.EventSource.layerAmqp({ topology, prefetch: 10 }))),
    Layer.provideMerge(connection)
  )
  return live
}

const waitFor = <A>(check: Effect.Effect<A, unknown, NotificationRecords>, until: (a: A) => boolean) =>
  check.pipe(
    Effect.filterOrFail(until),
    Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: "10 seconds" })))
  )

const testTopology = freshTopologyWith({ retryDelays: [Duration.millis(200), Duration.millis(400)] })

/** Runs `body` against a live consumer on a topology of its own, then removes the topology. */
const withSystem = <A>(
  body: (topology: Topology.Topology) => Effect.Effect<A, unknown, NotificationRecords | EventPublisher.EventPublisher>,
  records?: (connectionName: string) => Layer.Layer<NotificationRecords>,
  dedupe?: (
    connectionName: string
  ) => (real: Layer.Layer<DedupeStore, DedupeUnavailable>) => Layer.Layer<DedupeStore, DedupeUnavailable>
) =>
  Effect.gen(function* () {
    // Its own names, short retry delays, removed from the broker when the test ends.
    const topology = yield* testTopology
    const connectionName = `ws-test-consumer-${unique()}`
    const context = yield* Layer.build(
      system(topology, records?.(connectionName), connectionName, dedupe?.(connectionName))
    )
    return yield* body(topology).pipe(Effect.provide(context))
  })

/** Messages in a queue now, ready or delivered and unacked (as `rabbitmqctl list_queues` counts them). */
const messagesIn = (queue: string) =>
  Effect.sync(() => {
    const listing = execFileSync("rabbitmqctl", ["-q", "list_queues", "name", "messages"], { encoding: "utf8" })
    const line = listing.split("\n").find((l) => l.split("\t")[0] === queue)
    return Number(line?.split("\t")[1] ?? Number.NaN)
  })

/** Messages ready in a queue now (not counting those delivered and unacked). */
const readyIn = (queue: string) =>
  Effect.promise(async () => {
    const connection = await amqp.connect(AMQP_URL)
    try {
      return (await (await connection.createChannel()).checkQueue(queue)).messageCount
    } finally {
      await connection.close()
    }
  })

const publish = (routingKey: string, body: string, messageId: string) =>
  Effect.flatMap(Effect.service(EventPublisher.EventPublisher), (publisher) =>
    publisher.publishBatch([{ routingKey, body, messageId, headers: {} }])
  )

describe("the notifications consumer", () => {
  it.live("records an event published five times, concurrently, exactly once", () =>
    withSystem(() =>
      Effect.gen(function* () {
        const records = yield* NotificationRecords
        const event = yield* createdEvent
        yield* Effect.forEach([1, 2, 3, 4, 5], () => publish(event.event_type, encodeEvent(event), event.event_id), {
          concurrency: "unbounded"
        })
        const listed = yield* waitFor(records.list({ task_id: event.payload.id, limit: 10 }), (l) => l.length >= 1)
        yield* Effect.sleep("500 millis")
        assert.strictEqual((yield* records.list({ task_id: event.payload.id, limit: 10 })).length, 1)
        assert.strictEqual(listed[0]?.event_id, event.event_id)
        assert.strictEqual(listed[0]?.attempts, 1)
      })
    )
  )

  it.live(
    "dead-letters poison of each kind at once, with reason and routing key, and records the valid event behind it",
    () =>
      withSystem((topology) =>
        Effect.gen(function* () {
          const records = yield* NotificationRecords
          const event = yield* createdEvent
          const valid = encodeEvent(event)
          const poison = [
            ["workstream.task.created.v1", "{not json"],
            ["workstream.task.created.v1", JSON.stringify({ ...JSON.parse(valid), trace_id: "short" })],
            [
              "workstream.task.deleted.v1",
              JSON.stringify({ ...JSON.parse(valid), event_type: "workstream.task.deleted.v1" })
            ]
          ] as const
          for (const [key, body] of poison) yield* publish(key, body, `poison-${unique()}`)
          yield* publish(event.event_type, valid, event.event_id)
          yield* waitFor(records.get(event.event_id), Option.isSome)
          const dead = yield* takeMessages(topology.deadLetterQueue.name, poison.length, 10_000)
          assert.strictEqual(dead.length, poison.length)
          for (const [i, message] of dead.entries()) {
            assert.isString(message.headers["x-reason"])
            assert.isAbove(String(message.headers["x-reason"]).length, 0)
            assert.strictEqual(message.headers["x-stage"], "decode")
            assert.strictEqual(message.headers["x-original-routing-key"], poison[i]?.[0])
            assert.strictEqual(message.body, poison[i]?.[1])
          }
          const kept = yield* records.listDeadLetters({ limit: 10 })
          assert.deepStrictEqual(
            kept.map((d) => [d.routing_key, d.stage]),
            poison.map(([key]) => [key, "decode"])
          )
        })
      )
  )

  it.live("logs a dead-lettered message's warning with its message id and the trace it carries", () => {
    const lines: Array<Record<string, unknown>> = []
    const capture = Logger.map(Logging.formatJson("notifications"), (line) => {
      lines.push(JSON.parse(line))
    })
    const messageId = `poison-${unique()}`
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    return withSystem((topology) =>
      Effect.gen(function* () {
        const publisher = yield* EventPublisher.EventPublisher
        yield* publisher.publishBatch([
          { routingKey: "workstream.task.created.v1", body: "{not json", messageId, headers: { traceparent } }
        ])
        yield* takeMessages(topology.deadLetterQueue.name, 1, 10_000)
        const warning = yield* Effect.sync(() =>
          lines.find((line) => String(line.msg).startsWith("dead-lettered a poison message"))
        ).pipe(
          Effect.filterOrFail((line) => line !== undefined),
          Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo({ duration: "5 seconds" })))
        )
        assert.strictEqual(warning.event_id, messageId)
        // The trace its traceparent names (no tracing backend here, so no `process` span).
        assert.strictEqual(warning.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736")
      })
    ).pipe(Effect.provide(Logger.layer([capture])))
  })

  it.live("records once, counting attempts, when the store fails for the first tries (redelivered after a delay)", () =>
    withSystem(
      () =>
        Effect.gen(function* () {
          const records = yield* NotificationRecords
          const event = yield* createdEvent
          yield* publish(event.event_type, encodeEvent(event), event.event_id)
          // Two tries per attempt (one in-place retry): three failures end attempt 1 and half of attempt 2.
          const record = yield* waitFor(records.get(event.event_id), Option.isSome)
          assert.strictEqual(Option.getOrThrow(record).attempts, 2)
          yield* Effect.sleep("500 millis")
          assert.strictEqual((yield* records.list({ task_id: event.payload.id, limit: 10 })).length, 1)
        }),
      () => flakyRecords(3)
    )
  )

  it.live(
    "dead-letters after every delay is used up when the store keeps failing, with the attempts and last error",
    () =>
      withSystem(
        (topology) =>
          Effect.gen(function* () {
            const event = yield* createdEvent
            yield* publish(event.event_type, encodeEvent(event), event.event_id)
            const [dead] = yield* takeMessages(topology.deadLetterQueue.name, 1, 10_000)
            const headers = dead?.headers ?? {}
            assert.strictEqual(headers["x-reason"], "retries exhausted")
            assert.strictEqual(headers[EventConsumer.ATTEMPTS_HEADER], 3)
            assert.include(String(headers["x-last-error"]), "unavailable")
            assert.strictEqual(dead?.messageId, event.event_id)
          }),
        () => flakyRecords(Number.POSITIVE_INFINITY)
      )
  )

  it.live(
    "a consumer cut off between record and ack (its connection closed by the broker) gets the event again and still records it once",
    () =>
      withSystem(
        (topology) =>
          Effect.gen(function* () {
            const records = yield* NotificationRecords
            const event = yield* createdEvent
            yield* publish(event.event_type, encodeEvent(event), event.event_id)
            yield* waitFor(records.get(event.event_id), Option.isSome)
            // Unacked until the reconnect redelivers it; the dedupe key was never set, so the store's
            // unique index decides, and this time it is acked: the queue holds nothing, ready or unacked.
            yield* waitFor(messagesIn(topology.queue.name), (n) => n === 0)
            assert.strictEqual((yield* records.list({ task_id: event.payload.id, limit: 10 })).length, 1)
          }),
        recordsThenCrash
      )
  )

  it.live(
    "stopped (as by SIGTERM) with messages in flight: those in flight are recorded and acked, the rest wait for the next consumer; none is lost",
    () =>
      Effect.gen(function* () {
        const topology = yield* testTopology
        // One store for both consumer lives, as MongoDB would be.
        const store = Layer.succeedContext(yield* Layer.build(slowRecords))
        const first = yield* Scope.make()
        const running = yield* Layer.buildWithScope(system(topology, store), first)
        const events = yield* Effect.forEach(Array.from({ length: 200 }), () => createdEvent)
        yield* Effect.flatMap(Effect.service(EventPublisher.EventPublisher), (publisher) =>
          publisher.publishBatch(
            events.map((e) => ({ routingKey: e.event_type, body: encodeEvent(e), messageId: e.event_id, headers: {} }))
          )
        ).pipe(Effect.provide(running))
        const recorded = Effect.map(
          Effect.provide(
            Effect.flatMap(Effect.service(NotificationRecords), (records) => records.list({ limit: 1000 })),
            store
          ),
          (list) => list.map((r) => r.event_id)
        )
        yield* recorded.pipe(
          Effect.filterOrFail((ids) => ids.length >= 5),
          Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo({ duration: "10 seconds" })))
        )
        yield* Scope.close(first, Exit.void)
        const atStop = yield* recorded
        assert.isBelow(atStop.length, events.length, "stopped while messages were still waiting")
        assert.strictEqual(
          yield* readyIn(topology.queue.name),
          events.length - atStop.length,
          "every recorded message was acked before the consumer stopped; only the others wait"
        )

        yield* Layer.build(system(topology, store))
        const all = yield* recorded.pipe(
          Effect.filterOrFail((ids) => ids.length >= events.length),
          Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: "15 seconds" })))
        )
        assert.sameMembers(
          all,
          events.map((e) => e.event_id)
        )
      }),
    40_000
  )

  /**
   * One event, fully processed, then redelivered (cut off between the dedupe mark and the ack);
   * with `flush`, the dedupe keys are gone before it comes back. Waits until the redelivery is
   * answered and acked; what answered it is in the counts.
   */
  const redeliveredAfterMark = (flush: boolean) => {
    const store = countingRecords()
    const dedupe = markThenCrash({ flush })
    return withSystem(
      (topology) =>
        Effect.gen(function* () {
          const records = yield* NotificationRecords
          const event = yield* createdEvent
          yield* publish(event.event_type, encodeEvent(event), event.event_id)
          yield* waitFor(
            Effect.sync(() => dedupe.hits() + store.calls()),
            (answers) => answers === 2
          )
          // Acked this time: the queue holds nothing, ready or unacked.
          yield* waitFor(messagesIn(topology.queue.name), (n) => n === 0)
          const recorded = (yield* records.list({ task_id: event.payload.id, limit: 10 })).length
          return { hits: dedupe.hits(), storeCalls: store.calls(), recorded }
        }),
      () => store.layer,
      dedupe.around
    )
  }

  it.live(
    "a redelivery of an event fully processed (cut off between the dedupe mark and the ack) is answered by the Redis fast path, without asking the store",
    () =>
      Effect.map(redeliveredAfterMark(false), (counts) =>
        assert.deepStrictEqual(counts, { hits: 1, storeCalls: 1, recorded: 1 })
      )
  )

  it.live(
    "with the dedupe keys flushed before the redelivery, the store's unique index answers it: still one record",
    () =>
      Effect.map(redeliveredAfterMark(true), (counts) =>
        assert.deepStrictEqual(counts, { hits: 0, storeCalls: 2, recorded: 1 })
      )
  )

  it.live(
    "DLQ replay: a dry run changes nothing; a replayed event is recorded once, and replaying it again records nothing new",
    () =>
      withSystem((topology) =>
        Effect.gen(function* () {
          const records = yield* NotificationRecords
          const event = yield* createdEvent
          // As if it had been dead-lettered during a store outage: valid, and in the DLQ.
          const deadLetter = () =>
            Effect.promise(async () => {
              const connection = await amqp.connect(AMQP_URL)
              const channel = await connection.createConfirmChannel()
              channel.sendToQueue(topology.deadLetterQueue.name, Buffer.from(encodeEvent(event)), {
                persistent: true,
                messageId: event.event_id,
                headers: { "x-reason": "retries exhausted", "x-original-routing-key": event.event_type }
              })
              await channel.waitForConfirms()
              await connection.close()
            })
          const depth = Effect.promise(async () => {
            const connection = await amqp.connect(AMQP_URL)
            const { messageCount } = await (await connection.createChannel()).checkQueue(topology.deadLetterQueue.name)
            await connection.close()
            return messageCount
          })
          yield* publish("workstream.task.created.v1", "{poison", `poison-${unique()}`)
          yield* deadLetter()
          yield* waitFor(depth, (n) => n === 2)

          const dry = yield* replay({ amqpUrl: AMQP_URL, topology, dryRun: true })
          assert.strictEqual(dry.length, 2)
          assert.strictEqual(yield* depth, 2)
          assert.isTrue(Option.isNone(yield* records.get(event.event_id)))

          const done = yield* replay({ amqpUrl: AMQP_URL, topology, eventId: event.event_id, dryRun: false })
          assert.deepStrictEqual(
            done.map((d) => d.eventId),
            [event.event_id]
          )
          yield* waitFor(records.get(event.event_id), Option.isSome)
          assert.strictEqual(yield* depth, 1)

          yield* deadLetter()
          yield* waitFor(depth, (n) => n === 2)
          yield* replay({ amqpUrl: AMQP_URL, topology, eventId: event.event_id, dryRun: false })
          yield* waitFor(depth, (n) => n === 1)
          yield* Effect.sleep("500 millis")
          assert.strictEqual((yield* records.list({ task_id: event.payload.id, limit: 10 })).length, 1)
        })
      )
  )
})
