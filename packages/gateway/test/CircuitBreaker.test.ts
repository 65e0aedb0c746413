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
})
