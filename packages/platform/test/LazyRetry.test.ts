import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import { TestClock } from "effect/testing"
import * as LazyRetry from "../src/LazyRetry.ts"

/** An effect that fails with the given errors in turn, then succeeds with how many times it ran. */
const failingWith = (errors: ReadonlyArray<string>) => {
  let runs = 0
  const effect = Effect.suspend(() => {
    const error = errors[runs++]
    return error === undefined ? Effect.succeed(runs) : Effect.fail(error)
  })
  return { effect, runs: () => runs }
}

describe("LazyRetry.retry", () => {
  it.effect("runs a succeeding effect once, and sets no retry up for it", () =>
    Effect.gen(function* () {
      const { effect, runs } = failingWith([])
      let setUp = 0
      const retried = LazyRetry.retry(effect, (again) => {
        setUp++
        return Effect.retry(again, { times: 3 })
      })
      assert.strictEqual(yield* retried, 1)
      assert.strictEqual(runs(), 1)
      assert.strictEqual(setUp, 0, "the retry is set up only after a failure")
    })
  )

  it.effect("retries as Effect.retry would: the same runs, and the policy sees the first failure too", () =>
    Effect.gen(function* () {
      const policy = { times: 2, while: (error: string) => error !== "fatal" }
      for (const errors of [["a"], ["a", "b"], ["a", "b", "c"], ["fatal"], ["a", "fatal", "b"]]) {
        const plain = failingWith(errors)
        const lazy = failingWith(errors)
        const expected = yield* Effect.result(Effect.retry(plain.effect, policy))
        const actual = yield* Effect.result(LazyRetry.retry(lazy.effect, (again) => Effect.retry(again, policy)))
        assert.deepStrictEqual(actual, expected, errors.join(","))
        assert.strictEqual(lazy.runs(), plain.runs(), `runs for ${errors.join(",")}`)
      }
    })
  )

  it.effect("waits the schedule's delay before the second run: the first failure is not tried again at once", () =>
    Effect.gen(function* () {
      const { effect, runs } = failingWith(["a", "b"])
      const retried = LazyRetry.retry(effect, (again) => Effect.retry(again, Schedule.spaced("10 millis")))
      const fiber = yield* Effect.forkChild(retried, { startImmediately: true })
      assert.strictEqual(runs(), 1, "failed once, now waiting")
      yield* TestClock.adjust("10 millis")
      assert.strictEqual(runs(), 2)
      yield* TestClock.adjust("10 millis")
      assert.strictEqual(yield* Fiber.join(fiber), 3)
    })
  )
})
