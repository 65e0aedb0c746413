import { execFileSync } from "node:child_process"
import { assert, describe, it } from "@effect/vitest"
import { decodeEvent, type TaskEventEnvelope } from "@workstream/domain"
import type { TasksServiceClient } from "@workstream/proto"
import { Duration, Effect, Fiber, Layer, Result, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import * as Migrations from "../../src/db/migrations.ts"
import { call, takeMessages } from "../support/clients.ts"
import { databaseOf, freshDatabase, freshTopology, settingsFor, startTasks } from "../support/harness.ts"

/** Closes only this test's own broker connection, found by its connection_name. */
const closeConnection = (connectionName: string) =>
  Effect.sync(() => {
    const listing = execFileSync("rabbitmqctl", ["-q", "list_connections", "pid", "client_properties"], {
      encoding: "utf8"
    })
    const line = listing.split("\n").find((l) => l.includes(connectionName))
    const pid = line?.split("\t")[0]
    if (pid === undefined || pid === "") throw new Error(`no broker connection named ${connectionName}`)
    execFileSync("rabbitmqctl", ["-q", "close_connection", pid, "test: cut the relay off"])
  })

const committedEvents = (databaseUrl: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ event_id: string; task_id: string; unpublished: boolean }>`
      SELECT event_id::text AS event_id, task_id::text AS task_id, published_at IS NULL AS unpublished
      FROM outbox ORDER BY seq`
  }).pipe(Effect.provide(databaseOf(databaseUrl)))

/** Polls `effect` until its value passes `ok` (30 seconds at most). */
const eventually = <A, E>(effect: Effect.Effect<A, E>, ok: (value: A) => boolean, every: Duration.Input) =>
  effect.pipe(
    Effect.filterOrFail(ok),
    Effect.retry(Schedule.spaced(every).pipe(Schedule.upTo({ duration: "30 seconds" })))
  )

/** Waits until the relay has published every committed row. */
const allPublished = (databaseUrl: string) =>
  eventually(committedEvents(databaseUrl), (rows) => rows.every((r) => !r.unpublished), "100 millis")

/** `n` unpublished rows written straight into the (migrated) outbox: the backlog an outage leaves. */
const backlog = (databaseUrl: string, n: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`
      INSERT INTO outbox (event_id, event_type, task_id, body)
      SELECT gen_random_uuid(), 'workstream.task.created.v1', gen_random_uuid(), '{}' FROM generate_series(1, ${n})`
  }).pipe(Effect.provide(Migrations.layer.pipe(Layer.provideMerge(databaseOf(databaseUrl)))))

/** A row whose message cannot be encoded: its tracestate header is over AMQP's frame size. */
const unencodableRow = (databaseUrl: string, eventId: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`
      INSERT INTO outbox (event_id, event_type, task_id, body, tracestate)
      VALUES (${eventId}, 'workstream.task.created.v1', ${eventId}, '{}', ${"x".repeat(300_000)})`
  }).pipe(Effect.provide(databaseOf(databaseUrl)))

const publishedCount = (databaseUrl: string) =>
  Effect.map(committedEvents(databaseUrl), (rows) => rows.filter((r) => !r.unpublished).length)

/** Nothing more arrives: no event was published twice. */
const assertNoneLeft = (queue: string) =>
  Effect.map(takeMessages(queue, 1, 500), (extra) => assert.deepStrictEqual(extra, [], "no event published twice"))

/** Every committed event reached the queue, and each task's events arrived in commit order. */
const assertDelivered = (
  committed: ReadonlyArray<{ event_id: string; task_id: string }>,
  bodies: ReadonlyArray<string>
) => {
  const received = bodies.map((body) => Result.getOrThrow(decodeEvent(body)))
  const seen = new Set<string>(received.map((e) => e.event_id))
  const missing = committed.filter((row) => !seen.has(row.event_id))
  assert.deepStrictEqual(missing, [], "every committed event is published")
  // Re-publishing an event whose confirm never came is allowed; its first copy keeps the order.
  const firstCopies = new Map<string, TaskEventEnvelope>()
  for (const event of received) if (!firstCopies.has(event.event_id)) firstCopies.set(event.event_id, event)
  const byTask = new Map<string, Array<number>>()
  for (const event of firstCopies.values()) {
    byTask.set(event.payload.id, [...(byTask.get(event.payload.id) ?? []), event.payload.version])
  }
  for (const [task, versions] of byTask) {
    assert.deepStrictEqual(
      versions,
      [...versions].sort((a, b) => a - b),
      `events of ${task} in commit order`
    )
  }
}

const lifecycle = (client: TasksServiceClient, n: number) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) =>
      Effect.gen(function* () {
        const { task } = yield* call(client.createTask.bind(client), {
          title: `Task ${i}`,
          priority: 0,
          idempotency_key: ""
        })
        const id = task?.id ?? ""
        yield* call(client.startTask.bind(client), { id })
        yield* call(client.completeTask.bind(client), { id })
      }),
    { concurrency: 8 }
  )

describe("outbox relay", () => {
  it.live(
    "loses no event when its broker connection is cut mid-stream: everything committed is published afterwards, in order",
    () =>
      Effect.gen(function* () {
        const databaseUrl = yield* freshDatabase
        const topology = yield* freshTopology
        const tasks = yield* startTasks(yield* settingsFor(databaseUrl), topology)
        const writing = yield* Effect.forkChild(lifecycle(tasks.client, 60))
        yield* Effect.sleep(Duration.millis(150))
        yield* closeConnection(tasks.connectionName)
        yield* Effect.sleep(Duration.millis(300))
        yield* Effect.ignore(closeConnection(tasks.connectionName))
        yield* Fiber.join(writing)
        const committed = yield* allPublished(databaseUrl)
        assert.strictEqual(committed.length, 180)
        const messages = yield* takeMessages(topology.queue.name, committed.length, 20_000)
        assertDelivered(
          committed,
          messages.map((m) => m.body)
        )
      }),
    60_000
  )

  it.live(
    "two relays on one database: one leads at a time, every event is published, each task's in order",
    () =>
      Effect.gen(function* () {
        const databaseUrl = yield* freshDatabase
        const topology = yield* freshTopology
        const first = yield* startTasks(yield* settingsFor(databaseUrl), topology)
        const second = yield* startTasks(yield* settingsFor(databaseUrl), topology)
        yield* Effect.all([lifecycle(first.client, 25), lifecycle(second.client, 25)], { concurrency: 2 })
        const committed = yield* allPublished(databaseUrl)
        assert.strictEqual(committed.length, 150)
        const messages = yield* takeMessages(topology.queue.name, committed.length, 20_000)
        assertDelivered(
          committed,
          messages.map((m) => m.body)
        )
      }),
    60_000
  )

  it.live(
    "drains a backlog of full batches and a partial one (the read-ahead path): every event once, in commit order",
    () =>
      Effect.gen(function* () {
        const databaseUrl = yield* freshDatabase
        const topology = yield* freshTopology
        // Five full batches, then a partial one.
        yield* backlog(databaseUrl, 230)
        yield* startTasks(yield* settingsFor(databaseUrl, { relayBatchSize: 40 }), topology)
        const committed = yield* allPublished(databaseUrl)
        const messages = yield* takeMessages(topology.queue.name, committed.length, 20_000)
        assert.deepStrictEqual(
          messages.map((m) => m.messageId),
          committed.map((row) => row.event_id),
          "in seq order"
        )
        yield* assertNoneLeft(topology.queue.name)
      }),
    60_000
  )

  it.live(
    "a shutdown in the middle of a backlog leaves no confirmed event unmarked: the next leader publishes the rest, none twice",
    () =>
      Effect.gen(function* () {
        const databaseUrl = yield* freshDatabase
        const topology = yield* freshTopology
        const total = 4_000
        yield* backlog(databaseUrl, total)
        // Small batches: the drain takes many rounds, so the shutdown comes in the middle of it.
        const settings = settingsFor(databaseUrl, { relayBatchSize: 20 })
        yield* Effect.scoped(
          Effect.andThen(
            startTasks(yield* settings, topology),
            eventually(publishedCount(databaseUrl), (n) => n > 0, "10 millis")
          )
        )
        const marked = yield* publishedCount(databaseUrl)
        assert.isBelow(marked, total, "stopped in the middle of the backlog")
        const before = yield* takeMessages(topology.queue.name, total, 1_000)
        assert.strictEqual(before.length, marked, "every event confirmed before the shutdown is marked, only those")

        yield* startTasks(yield* settings, topology)
        yield* allPublished(databaseUrl)
        const after = yield* takeMessages(topology.queue.name, total - marked, 20_000)
        const ids = new Set([...before, ...after].map((m) => m.messageId))
        assert.strictEqual(ids.size, total, "every event published")
        yield* assertNoneLeft(topology.queue.name)
      }),
    60_000
  )

  it.live(
    "a shutdown during a steady stream of commits leaves no confirmed event unmarked, whichever drain it interrupts",
    () =>
      Effect.gen(function* () {
        const databaseUrl = yield* freshDatabase
        const topology = yield* freshTopology
        // Commits keep arriving while the relay drains, so a drain's last marks wait for the next
        // drain's first read: the shutdown must mark them all the same. Where it lands varies from
        // run to run; without the marks on failure and shutdown this test fails in some runs.
        yield* Effect.scoped(
          Effect.flatMap(startTasks(yield* settingsFor(databaseUrl), topology), (tasks) => lifecycle(tasks.client, 20))
        )
        const marked = yield* publishedCount(databaseUrl)
        assert.isAbove(marked, 0)
        const delivered = yield* takeMessages(topology.queue.name, 60, 1_000)
        assert.strictEqual(delivered.length, marked, "every event the broker confirmed is marked, only those")
      }),
    60_000
  )

  it.live(
    "a parked row right after a full batch does not send that batch again while its mark is pending",
    () =>
      Effect.gen(function* () {
        const databaseUrl = yield* freshDatabase
        const topology = yield* freshTopology
        // One full batch of 10, then a partial one led by a row whose headers exceed AMQP's frame:
        // the partial batch is parked while the full one is confirmed and not yet marked.
        yield* backlog(databaseUrl, 10)
        yield* unencodableRow(databaseUrl, "01932c07-a5b0-7c3e-9f2a-000000000bad")
        yield* backlog(databaseUrl, 3)
        yield* startTasks(yield* settingsFor(databaseUrl, { relayBatchSize: 10 }), topology)
        yield* eventually(publishedCount(databaseUrl), (n) => n === 13, "50 millis")
        const messages = yield* takeMessages(topology.queue.name, 13, 20_000)
        assert.strictEqual(new Set(messages.map((m) => m.messageId)).size, 13, "every valid event published")
        yield* assertNoneLeft(topology.queue.name)
      }),
    60_000
  )

  it.live(
    "parks a row whose message cannot be encoded (headers over AMQP's frame), with the reason, and publishes the events behind it",
    () =>
      Effect.gen(function* () {
        const databaseUrl = yield* freshDatabase
        const topology = yield* freshTopology
        const tasks = yield* startTasks(yield* settingsFor(databaseUrl), topology)
        const poison = "01932c07-a5b0-7c3e-9f2a-000000000bad"
        yield* unencodableRow(databaseUrl, poison)
        yield* lifecycle(tasks.client, 2)

        const messages = yield* takeMessages(topology.queue.name, 6, 20_000)
        assert.strictEqual(messages.length, 6, "the six events behind the parked row are published")
        assert.notInclude(
          messages.map((m) => m.messageId),
          poison
        )
        const [row] = yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          return yield* sql<{ parked: boolean; reason: string | null; published: boolean }>`
            SELECT parked_at IS NOT NULL AS parked, parked_reason AS reason, published_at IS NOT NULL AS published
            FROM outbox WHERE event_id = ${poison}`
        }).pipe(Effect.provide(databaseOf(databaseUrl)))
        assert.deepInclude(row ?? {}, { parked: true, published: false })
        assert.isAbove((row?.reason ?? "").length, 0, "the reason is kept for the operator")
        const ready = yield* Effect.tryPromise(() =>
          fetch(`http://127.0.0.1:${tasks.settings.httpPort}/readyz`).then(async (r) => ({
            status: r.status,
            body: (await r.json()) as { status: string; dependencies: { postgres: Record<string, unknown> } }
          }))
        )
        assert.strictEqual(ready.status, 200, "still in rotation")
        assert.strictEqual(ready.body.status, "degraded", "but the parked event is visible to operators")
        assert.deepInclude(ready.body.dependencies.postgres, { status: "lagging", outbox_parked: 1 })
      }),
    60_000
  )
})
