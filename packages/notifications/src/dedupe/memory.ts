/**
 * The in-memory dedupe store: expiry by Effect's Clock, so tests can pass 24 hours in a
 * millisecond. It remembers an event for `ttl`, and only the newest `limit` events (see
 * newest.ts): under load, a day of marks would outgrow the process.
 */
import { Clock, Duration, Effect, Layer } from "effect"
import { DEFAULT_MEMORY_LIMIT, ring } from "../newest.ts"
import { DedupeStore } from "./DedupeStore.ts"

export const dedupeInMemory = (options: { readonly ttl: Duration.Duration; readonly limit?: number }) =>
  Layer.sync(DedupeStore, () => {
    // event id -> expiry (epoch ms), changed in place. Expired entries are swept at most once per
    // sweep interval, so a mark costs O(1) however many keys there are.
    const entries = new Map<string, number>()
    const order = ring<string>(options.limit ?? DEFAULT_MEMORY_LIMIT)
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
          // A mark again only extends its time; a new one may displace the oldest. (An id swept
          // and marked again holds two slots, and leaves with the older: early, and harmless.)
          if (!entries.has(eventId)) {
            const oldest = order.push(eventId)
            if (oldest !== undefined) entries.delete(oldest)
          }
          entries.set(eventId, now + ttl)
        })
    })
  })
