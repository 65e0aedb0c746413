import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Ids, TaskId } from "../src/index.ts"

describe("Ids.uuidv7", () => {
  it.effect("makes valid UUIDv7 task ids whose first 48 bits are the Clock's milliseconds", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 10, 22, 10, 0, 0))
      const first = yield* Ids.uuidv7
      yield* TestClock.adjust("1 second")
      const second = yield* Ids.uuidv7
      assert.isTrue(Schema.is(TaskId)(first))
      assert.strictEqual(Number.parseInt(first.replaceAll("-", "").slice(0, 12), 16), Date.UTC(2026, 10, 22, 10, 0, 0))
      assert.isTrue(first < second, "ids sort in creation order")
    })
  )

  it.effect("ids made in the same millisecond still sort in the order they were made", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2026, 10, 22, 10, 0, 0))
      const ids = yield* Effect.replicateEffect(Ids.uuidv7, 1_000)
      assert.deepStrictEqual(ids, [...ids].sort())
      assert.strictEqual(new Set(ids).size, ids.length)
    })
  )

  it.effect("each id has random bits of its own, also across refills of the random pool", () =>
    Effect.gen(function* () {
      // The last 40 bits are random alone (the counter ends before them); 1,000 ids span four pages.
      const tails = yield* Effect.replicateEffect(
        Effect.map(Ids.uuidv7, (id) => id.slice(-10)),
        1_000
      )
      assert.strictEqual(new Set(tails).size, tails.length)
    })
  )
})
