/** The in-memory dedupe store: expiry by Effect's Clock, so tests can pass 24 hours in a millisecond. */
import { Clock, Duration, Effect, Layer, Ref } from "effect"
import { DedupeStore } from "./DedupeStore.ts"

export const dedupeInMemory = (options: { readonly ttl: Duration.Duration }) =>
  Layer.effect(
    DedupeStore,
    Effect.gen(function* () {
      // event id -> expiry (epoch ms). Expired entries are dropped when next written.
      const entries = yield* Ref.make(new Map<string, number>())
      const ttl = Duration.toMillis(options.ttl)
      return DedupeStore.of({
        seen: (eventId) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.map(Ref.get(entries), (all) => (all.get(eventId) ?? Number.NEGATIVE_INFINITY) > now)
          ),
        markProcessed: (eventId) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Ref.update(entries, (all) => {
              const next = new Map([...all].filter(([, expiry]) => expiry > now))
              return next.set(eventId, now + ttl)
            })
          )
      })
    })
  )
