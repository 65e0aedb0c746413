import { assert, describe, it } from "@effect/vitest"
import { encodeEvent } from "@workstream/domain"
import { freshDatabase, freshTopology, settingsFor, startTasks } from "@workstream/tasks/testing"
import amqp from "amqplib"
import { Effect, Schedule } from "effect"
import * as EventConsumer from "../../src/consumer/EventConsumer.ts"
import { createdEvent } from "../events.ts"
import { AMQP_URL, json, startNotifications } from "./support.ts"

/** Publishes bodies straight to the exchange, as a misbehaving or repeating producer would. */
const publishRaw = (
  exchange: string,
  messages: ReadonlyArray<{ routingKey: string; body: string; id: string; headers?: Record<string, unknown> }>
) =>
  Effect.promise(async () => {
    const connection = await amqp.connect(AMQP_URL)
    const channel = await connection.createConfirmChannel()
    for (const m of messages) {
      channel.publish(exchange, m.routingKey, Buffer.from(m.body), { messageId: m.id, headers: m.headers ?? {} })
    }
    await channel.waitForConfirms()
    await connection.close()
  })

const metricsText = (port: number) =>
  Effect.tryPromise(() => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()))

/** The value of one series, e.g. `value(text, "notifications_events_consumed_total", { outcome: "recorded" })`. */
const value = (text: string, name: string, labels: Record<string, string> = {}): number | undefined => {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(" ").at(-1))
  }
  return undefined
}

describe("the metrics after a known sequence of events", () => {
  it.live(
    "3 creates, 1 event published twice then back from a retry queue, 1 poison message: counted by outcome, dedupe hit, DLQ depth, published, RPCs; the DLQ over its bound degrades /readyz",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology
        const tasks = yield* startTasks(yield* settingsFor(yield* freshDatabase), topology)
        const notifications = yield* startNotifications(topology)
        const { client } = tasks
        for (let i = 0; i < 3; i++) {
          yield* Effect.callback<void>((resume) => {
            client.createTask({ title: `M${i}`, priority: 0, idempotency_key: "" }, () => resume(Effect.void))
          })
        }
        const twice = yield* createdEvent
        const body = encodeEvent(twice)
        const once = { routingKey: twice.event_type, body, id: twice.event_id }
        yield* publishRaw(topology.exchange, [
          once,
          { routingKey: twice.event_type, body: "{not json", id: "poison-1" }
        ])

        const port = notifications.httpPort
        const metricsWhen = (until: (text: string) => boolean) =>
          metricsText(port).pipe(
            Effect.filterOrFail(until),
            Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: "15 seconds" })))
          )
        yield* metricsWhen(
          (text) =>
            value(text, "notifications_events_consumed_total", { outcome: "recorded" }) === 4 &&
            value(text, "notifications_events_consumed_total", { outcome: "dead_lettered" }) === 1
        )
        // Published again once it is recorded: a first delivery, so the store's unique index answers.
        yield* publishRaw(topology.exchange, [once])
        yield* metricsWhen((text) => value(text, "notifications_events_consumed_total", { outcome: "duplicate" }) === 1)
        // Back as a retry queue hands it back (its attempts counted): the Redis fast path answers.
        yield* publishRaw(topology.exchange, [{ ...once, headers: { [EventConsumer.ATTEMPTS_HEADER]: 1 } }])
        const settled = yield* metricsWhen(
          (text) => value(text, "notifications_events_consumed_total", { outcome: "duplicate" }) === 2
        )
        assert.strictEqual(value(settled, "notifications_events_consumed_total", { outcome: "recorded" }), 4)
        assert.strictEqual(value(settled, "notifications_dedupe_hits_total"), 1)
        assert.strictEqual(value(settled, "outbox_events_published_total"), 3)
        assert.strictEqual(value(settled, "rpc_server_calls_total", { method: "CreateTask", code: "OK" }), 3)
        assert.strictEqual(value(settled, "notifications_in_flight"), 0)
        for (const runtime of [
          "nodejs_eventloop_delay_p99_seconds",
          "nodejs_heap_used_bytes",
          "process_resident_memory_bytes"
        ]) {
          assert.isAbove(
            value(settled, runtime) ?? -1,
            runtime === "nodejs_eventloop_delay_p99_seconds" ? -1 : 0,
            runtime
          )
        }

        const ready = yield* json(`http://127.0.0.1:${port}/readyz`)
        assert.strictEqual(ready.status, 200, "a DLQ over its bound does not take the service out of rotation")
        assert.deepInclude(ready.body as object, { status: "degraded" })
        assert.deepInclude((ready.body as { dependencies: Record<string, unknown> }).dependencies, {
          rabbitmq: { status: "lagging", queue_depth: 0, dlq_depth: 1, over: { dlq_depth: 0 } }
        })
        const depth = yield* metricsText(port).pipe(
          Effect.map((text) => value(text, "notifications_queue_depth", { queue: topology.deadLetterQueue.name })),
          Effect.filterOrFail((n) => n === 1),
          Effect.retry(Schedule.spaced("500 millis").pipe(Schedule.upTo({ duration: "10 seconds" })))
        )
        assert.strictEqual(depth, 1)
      }),
    60_000
  )
})
