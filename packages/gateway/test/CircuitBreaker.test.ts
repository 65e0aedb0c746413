import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as CircuitBreaker from "../src/grpc/CircuitBreaker.ts"

class Down extends Schema.TaggedError<Down>()("Down", {}) {}
class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {}) {}
const isOutage = (e: Down | NotFound) => e._tag === "Down"
const options = { threshold: 3, cooldown: Duration.seconds(5) }

describe("CircuitBreaker", () => {
  it.effect(
    "opens after the threshold of outage failures, fails fast, then lets one trial decide after the cooldown",
    () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.make(options)
        for (let i = 0; i < 3; i++) yield* Effect.flip(breaker.protect(Effect.fail(new Down()), isOutage))
        assert.isTrue(yield* breaker.isOpen)
        const refused = yield* Effect.flip(breaker.protect(Effect.succeed(1), isOutage))
        assert.strictEqual(refused._tag, "CircuitOpen")
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* breaker.protect(Effect.succeed(1), isOutage), 1)
        assert.isFalse(yield* breaker.isOpen)
      })
  )

  it.effect("does not count failures that are not outages (a 404 is the service working)", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(options)
      for (let i = 0; i < 10; i++) yield* Effect.flip(breaker.protect(Effect.fail(new NotFound()), isOutage))
      assert.isFalse(yield* breaker.isOpen)
    })
  )

  it.effect("does not count callers that gave up (interrupted calls), so impatient clients cannot open it", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(options)
      for (let i = 0; i < 10; i++) {
        const fiber = yield* Effect.forkChild(breaker.protect(Effect.never, isOutage))
        yield* Effect.yieldNow
        yield* Fiber.interrupt(fiber)
      }
      assert.isFalse(yield* breaker.isOpen)
    })
  )

  it.effect("counts consecutive outages only: a call that reached a working service starts the count again", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(options)
      const outage = Effect.flip(breaker.protect(Effect.fail(new Down()), isOutage))
      yield* outage
      yield* outage
      yield* Effect.flip(breaker.protect(Effect.fail(new NotFound()), isOutage))
      yield* outage
      yield* outage
      assert.isFalse(yield* breaker.isOpen, "2 + 2 outages with a 404 between them")
      yield* outage
      assert.isTrue(yield* breaker.isOpen, "the third in a row opens it")
    })
  )

  it.effect("lets a single trial through after the cooldown; a failed trial reopens it for another cooldown", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(options)
      for (let i = 0; i < 3; i++) yield* Effect.flip(breaker.protect(Effect.fail(new Down()), isOutage))
      yield* TestClock.adjust("5 seconds")
      const trial = yield* Effect.forkChild(breaker.protect(Effect.never, isOutage))
      yield* Effect.yieldNow
      const second = yield* Effect.flip(breaker.protect(Effect.succeed(1), isOutage))
      assert.strictEqual(second._tag, "CircuitOpen", "a second call while the trial runs is refused")
      yield* Fiber.interrupt(trial)
      assert.isTrue(yield* breaker.isOpen, "an interrupted trial reopens the circuit instead of leaving it half-open")
      yield* TestClock.adjust("5 seconds")
      yield* Effect.flip(breaker.protect(Effect.fail(new Down()), isOutage))
      assert.isTrue(yield* breaker.isOpen, "the failed trial reopened it")
      yield* TestClock.adjust("4 seconds")
      const refused = yield* Effect.flip(breaker.protect(Effect.succeed(1), isOutage))
      assert.strictEqual(refused._tag, "CircuitOpen", "for a whole new cooldown")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* breaker.protect(Effect.succeed(1), isOutage), 1)
      assert.isFalse(yield* breaker.isOpen)
    })
  )
})
