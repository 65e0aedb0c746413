/** The in-memory dedupe store: expiry by Effect's Clock, so tests can pass 24 hours in a millisecond. */
import { Clock, Duration, Effect, Layer } from "effect"
import { DedupeStore } from "./DedupeStore.ts"

export const dedupeInMemory = (options: { readonly ttl: Duration.Duration }) =>
  Layer.sync(DedupeStore, () => {
    // event id -> expiry (epoch ms), changed in place. Expired entries are swept at most once per
    // sweep interval, so a mark costs O(1) however many keys there are.
    const entries = new Map<string, number>()
    const ttl = Duration.toMillis(options.ttl)
    const sweepEvery = Math.min(ttl, 60_000)
    let nextSweep = 0
    return DedupeStore.of({
      seen: (eventId) =>
        Effect.map(Clock.currentTimeMillis, (now) => (entries.get(eventId) ?? Number.NEGATIVE_INFINITY) > now),
      markProcessed: (eventId) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          if (now >= nextSweep) {
            for (const [id, expiry] of entries) if (expiry <= now) entries.delete(id)
            nextSweep = now + sweepEvery
          }
          entries.set(eventId, now + ttl)
        })
    })
  })
