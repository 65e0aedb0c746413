import { assert, layer } from "@effect/vitest"
import { decodeEvent, encodeEvent, type TaskEventEnvelope } from "@workstream/domain"
import { DateTime, Duration, Effect, Layer, Result } from "effect"
import { SqlClient } from "effect/sql"
import { type NewOutboxRow, OutboxStore } from "../../src/db/OutboxStore.ts"
import { TaskChanges } from "../../src/db/TaskChanges.ts"
import { createOne, TestDatabase } from "../support/database.ts"
import { created, envelopesOf, timeline, transitioned } from "../support/fixtures.ts"

const Store = Layer.merge(OutboxStore.layer, TaskChanges.layer).pipe(Layer.provideMerge(TestDatabase.layer))

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

layer(Store, { excludeTestServices: true, timeout: "60 seconds" })("OutboxStore", (it) => {
  const now = timeline()
  const store = Effect.service(OutboxStore)

  /** Each test starts from an empty outbox; `seq` keeps counting, as it does in production. */
  const reset = Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`DELETE FROM outbox`
  })

  /** `n` task-created events, each for a task of its own. */
  const events = (n: number) =>
    Effect.forEach(Array.from({ length: n }), () =>
      Effect.gen(function* () {
        const at = yield* now
        const [envelope] = yield* envelopesOf(yield* created(at), at)
        if (envelope === undefined) return yield* Effect.die("a create emits one event")
        return envelope
      })
    )
  const rowsOf = (envelopes: ReadonlyArray<TaskEventEnvelope>): ReadonlyArray<NewOutboxRow> =>
    envelopes.map((envelope) => ({ envelope }))
  /** Writes `rows` into the outbox the way the service does: as the events of a task's create. */
  const append = (rows: ReadonlyArray<NewOutboxRow>) =>
    Effect.gen(function* () {
      const { task } = yield* created(yield* now)
      yield* createOne(task, rows)
    })

  it.effect(
    "written rows come back in seq order, each body exactly what encodeEvent wrote, with its trace context",
    () =>
      Effect.gen(function* () {
        yield* reset
        const outbox = yield* store
        const at = yield* now
        const decision = yield* created(at, { title: "Ship it", assignee: "alice" })
        const [createdEvent] = yield* envelopesOf(decision, at)
        const startedAt = yield* now
        const [startedEvent] = yield* envelopesOf(yield* transitioned(decision.task, "start", startedAt), startedAt)
        const [other] = yield* events(1)
        if (createdEvent === undefined || startedEvent === undefined || other === undefined) return assert.fail()
        const appended: ReadonlyArray<NewOutboxRow> = [
          { envelope: createdEvent },
          { envelope: startedEvent, traceparent: TRACEPARENT, tracestate: "vendor=value" },
          { envelope: other, traceparent: TRACEPARENT }
        ]
        yield* append(appended)

        const batch = yield* outbox.nextBatch(10)
        assert.deepStrictEqual(
          batch.map((row) => row.event_id),
          appended.map((row) => row.envelope.event_id)
        )
        for (let i = 1; i < batch.length; i++) {
          assert.isTrue(BigInt(batch[i - 1]?.seq ?? "0") < BigInt(batch[i]?.seq ?? "0"), "seq increases")
        }
        for (const [i, row] of batch.entries()) {
          const { envelope, traceparent, tracestate } = appended[i] ?? assert.fail()
          assert.strictEqual(row.body, encodeEvent(envelope))
          assert.strictEqual(encodeEvent(Result.getOrThrow(decodeEvent(row.body))), row.body)
          assert.strictEqual(row.event_type, envelope.event_type)
          assert.strictEqual(row.task_id, envelope.payload.id)
          assert.strictEqual(row.traceparent, traceparent ?? null)
          assert.strictEqual(row.tracestate, tracestate ?? null)
        }
      })
  )

  it.effect("nextBatch honours its limit, and markPublished takes rows out of later batches exactly once", () =>
    Effect.gen(function* () {
      yield* reset
      const outbox = yield* store
      const sql = yield* SqlClient.SqlClient
      const envelopes = yield* events(5)
      yield* append(rowsOf(envelopes))
      const first = yield* outbox.nextBatch(2)
      assert.deepStrictEqual(
        first.map((row) => row.event_id),
        envelopes.slice(0, 2).map((e) => e.event_id)
      )
      yield* outbox.markPublished(first.map((row) => row.seq))
      const rest = yield* outbox.nextBatch(10)
      assert.deepStrictEqual(
        rest.map((row) => row.event_id),
        envelopes.slice(2).map((e) => e.event_id)
      )

      // Marking again (a relay that lost the answer of its UPDATE) keeps the first publication time.
      const stamp = sql<{ at: string }>`SELECT max(published_at)::text AS at FROM outbox`
      const before = yield* stamp
      yield* Effect.sleep(Duration.millis(5))
      yield* outbox.markPublished(first.map((row) => row.seq))
      yield* outbox.markPublished([])
      assert.deepStrictEqual(yield* stamp, before)
    })
  )

  it.effect(
    "nextBatch passes over the rows in flight, and only those: the relay reads ahead while a batch is confirmed",
    () =>
      Effect.gen(function* () {
        yield* reset
        const outbox = yield* store
        const envelopes = yield* events(6)
        yield* append(rowsOf(envelopes))
        const [a, b, c, d, e, f] = yield* outbox.nextBatch(10)
        if (
          a === undefined ||
          b === undefined ||
          c === undefined ||
          d === undefined ||
          e === undefined ||
          f === undefined
        )
          return assert.fail("six rows")
        // In flight: the first two and the fourth (a row below the batch's end may commit after it was read).
        const ahead = yield* outbox.nextBatch(2, [a.seq, b.seq, d.seq])
        assert.deepStrictEqual(
          ahead.map((row) => row.seq),
          [c.seq, e.seq]
        )
        assert.deepStrictEqual(
          (yield* outbox.nextBatch(10, [])).map((row) => row.seq),
          [a, b, c, d, e, f].map((row) => row.seq)
        )
      })
  )

  it.effect("order is numeric across digit counts and seq stays exact past 2^53", () =>
    Effect.gen(function* () {
      yield* reset
      const outbox = yield* store
      const sql = yield* SqlClient.SqlClient
      // 95..104: sorted as text, "100" would come before "95".
      yield* sql`ALTER TABLE outbox ALTER COLUMN seq RESTART WITH 95`
      const small = yield* events(10)
      yield* append(rowsOf(small))
      const batch = yield* outbox.nextBatch(10)
      assert.deepStrictEqual(
        batch.map((row) => row.seq),
        Array.from({ length: 10 }, (_, i) => String(95 + i))
      )
      yield* outbox.markPublished(batch.map((row) => row.seq))

      const beyond = 2n ** 53n - 1n
      yield* sql.unsafe(`ALTER TABLE outbox ALTER COLUMN seq RESTART WITH ${beyond}`)
      yield* append(rowsOf(yield* events(3)))
      const big = yield* outbox.nextBatch(10)
      assert.deepStrictEqual(
        big.map((row) => row.seq),
        [beyond, beyond + 1n, beyond + 2n].map(String)
      )
      // Only the middle one: a rounded seq would hit a neighbour.
      yield* outbox.markPublished([String(beyond + 1n)])
      assert.deepStrictEqual(
        (yield* outbox.nextBatch(10)).map((row) => row.seq),
        [beyond, beyond + 2n].map(String)
      )
    })
  )

  it.effect("prune deletes rows published before the bound, in chunks, however many; never unpublished ones", () =>
    Effect.gen(function* () {
      yield* reset
      const outbox = yield* store
      const sql = yield* SqlClient.SqlClient
      const old = 12_345 // more than two chunks
      const insertRows = (count: number, published: string | null, createdAgo: string) =>
        sql.unsafe(`
          INSERT INTO outbox (event_id, event_type, task_id, body, created_at, published_at)
          SELECT gen_random_uuid(), 'workstream.task.created.v1', gen_random_uuid(), '{}',
                 now() - interval '${createdAgo}', ${published === null ? "NULL" : `now() - interval '${published}'`}
          FROM generate_series(1, ${count})`)
      yield* insertRows(old, "10 days", "10 days")
      yield* insertRows(3, "1 hour", "1 hour")
      yield* insertRows(2, null, "30 days")

      const bound = DateTime.subtractDuration(yield* DateTime.now, Duration.days(7))
      assert.strictEqual(yield* outbox.prune(bound), old)
      assert.strictEqual(yield* outbox.prune(bound), 0)
      const [left] = yield* sql<{ published: number; unpublished: number }>`
        SELECT count(*) FILTER (WHERE published_at IS NOT NULL)::int AS published,
               count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished
        FROM outbox`
      assert.deepStrictEqual(left, { published: 3, unpublished: 2 })
    })
  )

  it.effect("stats count pending rows and age the oldest by the database clock; published rows do not count", () =>
    Effect.gen(function* () {
      yield* reset
      const outbox = yield* store
      const sql = yield* SqlClient.SqlClient
      assert.deepStrictEqual(yield* outbox.stats, { pending: 0, parked: 0, oldestPendingAgeMs: undefined })

      yield* append(rowsOf(yield* events(3)))
      const [oldest] = yield* outbox.nextBatch(1)
      yield* sql`UPDATE outbox SET created_at = now() - interval '90 seconds' WHERE seq = ${oldest?.seq ?? "0"}`
      const stats = yield* outbox.stats
      assert.strictEqual(stats.pending, 3)
      assert.isAtLeast(stats.oldestPendingAgeMs ?? 0, 90_000)
      assert.isBelow(stats.oldestPendingAgeMs ?? 0, 120_000)

      yield* outbox.markPublished((yield* outbox.nextBatch(10)).map((row) => row.seq))
      assert.deepStrictEqual(yield* outbox.stats, { pending: 0, parked: 0, oldestPendingAgeMs: undefined })
    })
  )

  it.effect("a parked row is passed over by the relay's reads, counted apart, and kept with its reason", () =>
    Effect.gen(function* () {
      yield* reset
      const outbox = yield* store
      const sql = yield* SqlClient.SqlClient
      yield* append(rowsOf(yield* events(3)))
      const [first, second] = yield* outbox.nextBatch(10)
      yield* outbox.park(first?.event_id ?? "", "headers too large")
      assert.deepStrictEqual(
        (yield* outbox.nextBatch(10)).map((row) => row.event_id)[0],
        second?.event_id,
        "the relay's next read starts after it"
      )
      const stats = yield* outbox.stats
      assert.deepStrictEqual([stats.pending, stats.parked], [2, 1])
      const [kept] = yield* sql<{ reason: string }>`
        SELECT parked_reason AS reason FROM outbox WHERE event_id = ${first?.event_id ?? ""}`
      assert.strictEqual(kept?.reason, "headers too large")
    })
  )
})
