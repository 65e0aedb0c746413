/** The contract every DedupeStore adapter passes: one suite, run against each. */
import { assert, layer } from "@effect/vitest"
import { Ids } from "@workstream/domain"
import { Duration, Effect as E, type Effect, type Layer } from "effect"
import { DedupeStore, type DedupeUnavailable } from "../../src/index.ts"

export const TTL = Duration.seconds(1)

/**
 * `passTime` makes the given duration pass for the store: the TestClock for the in-memory
 * adapter, a real sleep for Redis, whose clock cannot be moved.
 */
export const contractSuite = (
  name: string,
  store: Layer.Layer<DedupeStore, DedupeUnavailable>,
  passTime: (duration: Duration.Duration) => Effect.Effect<void>,
  options: { readonly live: boolean }
) =>
  layer(store, { timeout: "30 seconds", excludeTestServices: options.live })(
    `${name}: the DedupeStore contract`,
    (it) => {
      const dedupe = E.service(DedupeStore)

      it.effect("an event is unseen until marked processed, then seen", () =>
        E.gen(function* () {
          const store = yield* dedupe
          const eventId = yield* Ids.uuidv7
          assert.isFalse(yield* store.seen(eventId))
          yield* store.markProcessed(eventId)
          assert.isTrue(yield* store.seen(eventId))
          assert.isFalse(yield* store.seen(yield* Ids.uuidv7))
        })
      )

      it.effect("forgets an event once its time to live has passed, and marking again is harmless", () =>
        E.gen(function* () {
          const store = yield* dedupe
          const eventId = yield* Ids.uuidv7
          yield* store.markProcessed(eventId)
          yield* store.markProcessed(eventId)
          yield* passTime(Duration.millis(Duration.toMillis(TTL) / 2))
          assert.isTrue(yield* store.seen(eventId))
          yield* passTime(Duration.millis(Duration.toMillis(TTL) / 2 + 300))
          assert.isFalse(yield* store.seen(eventId))
        })
      )
    }
  )
