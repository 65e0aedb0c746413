import { assert, layer } from "@effect/vitest"
import { DateTime, Deferred, Duration, Effect, Fiber, Layer, Option, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { IdempotencyKeys } from "../../src/db/IdempotencyKeys.ts"
import { TestDatabase } from "../support/database.ts"
import { BASE_MS, taskIdAt, timeline } from "../support/fixtures.ts"

const Keys = IdempotencyKeys.layer.pipe(Layer.provideMerge(TestDatabase.layerWith({ maxConnections: 10 })))

layer(Keys, { excludeTestServices: true, timeout: "60 seconds" })("IdempotencyKeys", (it) => {
  const now = timeline()
  const keys = Effect.service(IdempotencyKeys)
  // Far enough ahead of the real clock that these keys are live whenever the suite runs.
  const T = DateTime.makeUnsafe(Date.UTC(2100, 0, 1))
  const record = (key: string, hash: string, expires_at = T) =>
    Effect.map(Effect.flatMap(now, taskIdAt), (task_id) => ({ key, request_hash: hash, task_id, expires_at }))

  /** Waits until some session of the test database is blocked on a lock. */
  const someoneWaitsOnALock = Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql<{ waiting: number }>`
      SELECT count(*)::int AS waiting FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`.pipe(
      Effect.filterOrFail((rows) => (rows[0]?.waiting ?? 0) > 0),
      Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo({ duration: "10 seconds" })))
    )
  })

  it.effect("a key records its request and task; inserting a live key again is refused and changes nothing", () =>
    Effect.gen(function* () {
      const store = yield* keys
      const first = yield* record("k-refused", "hash-a")
      assert.isTrue(yield* store.insert(first))
      assert.isFalse(yield* store.insert(yield* record("k-refused", "hash-b")))
      const found = yield* store.find("k-refused", DateTime.makeUnsafe(BASE_MS))
      assert.deepStrictEqual(found, Option.some({ request_hash: "hash-a", task_id: first.task_id }))
      assert.isTrue(Option.isNone(yield* store.find("k-never-used", DateTime.makeUnsafe(BASE_MS))))
    })
  )

  it.effect("find ignores a key from the instant it expires", () =>
    Effect.gen(function* () {
      const store = yield* keys
      yield* store.insert(yield* record("k-expiry", "hash"))
      assert.isTrue(Option.isSome(yield* store.find("k-expiry", DateTime.subtractDuration(T, Duration.millis(1)))))
      assert.isTrue(Option.isNone(yield* store.find("k-expiry", T)))
      assert.isTrue(Option.isNone(yield* store.find("k-expiry", DateTime.addDuration(T, Duration.hours(1)))))
    })
  )

  it.effect("an expired key not yet deleted can be used again, for a new request", () =>
    Effect.gen(function* () {
      const store = yield* keys
      const past = DateTime.subtractDuration(yield* DateTime.now, Duration.minutes(1))
      assert.isTrue(yield* store.insert(yield* record("k-reused", "old", past)))
      assert.isTrue(Option.isNone(yield* store.find("k-reused", yield* DateTime.now)))
      const fresh = yield* record("k-reused", "new")
      assert.isTrue(yield* store.insert(fresh))
      assert.deepStrictEqual(
        yield* store.find("k-reused", yield* DateTime.now),
        Option.some({ request_hash: "new", task_id: fresh.task_id })
      )
    })
  )

  it.effect("concurrent creates with one key: exactly one transaction records it, and its record stays", () =>
    Effect.gen(function* () {
      const store = yield* keys
      const sql = yield* SqlClient.SqlClient
      const records = yield* Effect.forEach(["a", "b", "c", "d", "e", "f"], (hash) => record("k-race", hash))
      const results = yield* Effect.forEach(records, (r) => sql.withTransaction(store.insert(r)), {
        concurrency: "unbounded"
      })
      assert.strictEqual(results.filter(Boolean).length, 1, `results: ${results}`)
      const winner = records[results.indexOf(true)]
      assert.deepStrictEqual(
        yield* store.find("k-race", DateTime.makeUnsafe(BASE_MS)),
        Option.some({ request_hash: winner?.request_hash ?? "", task_id: winner?.task_id ?? assert.fail() })
      )
    })
  )

  it.effect("an insert waiting on a concurrent one records the key when that one rolls back", () =>
    Effect.gen(function* () {
      const store = yield* keys
      const sql = yield* SqlClient.SqlClient
      const holding = yield* Deferred.make<void>()
      const rollBack = yield* Deferred.make<void>()
      const first = yield* Effect.forkChild(
        sql.withTransaction(
          Effect.gen(function* () {
            assert.isTrue(yield* store.insert(yield* record("k-rollback", "first")))
            yield* Deferred.succeed(holding, undefined)
            yield* Deferred.await(rollBack)
            return yield* Effect.fail("rolled back" as const)
          })
        )
      )
      yield* Deferred.await(holding)
      const second = yield* record("k-rollback", "second")
      const waiting = yield* Effect.forkChild(sql.withTransaction(store.insert(second)))
      yield* someoneWaitsOnALock
      yield* Deferred.succeed(rollBack, undefined)
      assert.strictEqual(yield* Effect.flip(Fiber.join(first)), "rolled back")
      assert.isTrue(yield* Fiber.join(waiting))
      assert.deepStrictEqual(
        yield* store.find("k-rollback", DateTime.makeUnsafe(BASE_MS)),
        Option.some({ request_hash: "second", task_id: second.task_id })
      )
    })
  )

  it.effect("deleteExpired removes exactly the keys expired at the given instant", () =>
    Effect.gen(function* () {
      const store = yield* keys
      const at = DateTime.makeUnsafe(Date.UTC(2150, 0, 1))
      yield* store.deleteExpired(at) // what the earlier tests left: all expired by then
      const offsets = [-1, 0, 1]
      for (const ms of offsets) {
        yield* store.insert(yield* record(`k-delete${ms}`, "h", DateTime.addDuration(at, Duration.millis(ms))))
      }
      assert.strictEqual(yield* store.deleteExpired(at), 2)
      const later = DateTime.subtractDuration(at, Duration.hours(1))
      assert.isTrue(Option.isNone(yield* store.find("k-delete-1", later)))
      assert.isTrue(Option.isNone(yield* store.find("k-delete0", later)))
      assert.isTrue(Option.isSome(yield* store.find("k-delete1", later)))
    })
  )
})
