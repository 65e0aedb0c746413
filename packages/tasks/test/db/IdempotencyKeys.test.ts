import { assert, layer } from "@effect/vitest"
import { DateTime, Duration, Effect, Layer, Option } from "effect"
import { IdempotencyKeys } from "../../src/db/IdempotencyKeys.ts"
import { TaskChanges } from "../../src/db/TaskChanges.ts"
import { createOne, TestDatabase } from "../support/database.ts"
import { BASE_MS, created, timeline } from "../support/fixtures.ts"

const Keys = Layer.merge(IdempotencyKeys.layer, TaskChanges.layer).pipe(
  Layer.provideMerge(TestDatabase.layerWith({ maxConnections: 10 }))
)

layer(Keys, { excludeTestServices: true, timeout: "60 seconds" })("IdempotencyKeys", (it) => {
  const now = timeline()
  const keys = Effect.service(IdempotencyKeys)
  // Far enough ahead of the real clock that these keys are live whenever the suite runs.
  const T = DateTime.makeUnsafe(Date.UTC(2100, 0, 1))
  /** Claims `key` for a new task, as a create does; returns the task's id. */
  const claimed = (key: string, request_hash: string, expires_at = T) =>
    Effect.gen(function* () {
      const { task } = yield* created(yield* now)
      assert.isTrue(yield* createOne(task, [], { key, request_hash, expires_at }))
      return task.id
    })

  it.effect("find gives a claimed key's request and task, and nothing for a key never used", () =>
    Effect.gen(function* () {
      const store = yield* keys
      const task_id = yield* claimed("k-found", "hash-a")
      const found = yield* store.find("k-found", DateTime.makeUnsafe(BASE_MS))
      assert.deepStrictEqual(found, Option.some({ request_hash: "hash-a", task_id }))
      assert.isTrue(Option.isNone(yield* store.find("k-never-used", DateTime.makeUnsafe(BASE_MS))))
    })
  )

  it.effect("find ignores a key from the instant it expires", () =>
    Effect.gen(function* () {
      const store = yield* keys
      yield* claimed("k-expiry", "hash")
      assert.isTrue(Option.isSome(yield* store.find("k-expiry", DateTime.subtractDuration(T, Duration.millis(1)))))
      assert.isTrue(Option.isNone(yield* store.find("k-expiry", T)))
      assert.isTrue(Option.isNone(yield* store.find("k-expiry", DateTime.addDuration(T, Duration.hours(1)))))
    })
  )

  it.effect("deleteExpired removes exactly the keys expired at the given instant", () =>
    Effect.gen(function* () {
      const store = yield* keys
      const at = DateTime.makeUnsafe(Date.UTC(2150, 0, 1))
      yield* store.deleteExpired(at) // what the earlier tests left: all expired by then
      const offsets = [-1, 0, 1]
      for (const ms of offsets) {
        yield* claimed(`k-delete${ms}`, "h", DateTime.addDuration(at, Duration.millis(ms)))
      }
      assert.strictEqual(yield* store.deleteExpired(at), 2)
      const later = DateTime.subtractDuration(at, Duration.hours(1))
      assert.isTrue(Option.isNone(yield* store.find("k-delete-1", later)))
      assert.isTrue(Option.isNone(yield* store.find("k-delete0", later)))
      assert.isTrue(Option.isSome(yield* store.find("k-delete1", later)))
    })
  )
})
