/**
 * The in-memory dedupe store: expiry by Effect's Clock, so tests can pass 24 hours in a
 * millisecond. It remembers an event for `ttl`, and only the newest `limit` events (see
 * newest.ts): under load, a day of marks would outgrow the process. An expired mark waits for the
 * ring to displace it; `seen` already reads it as gone.
 */
import { Clock, Duration, Effect, Layer } from "effect"
import { DEFAULT_MEMORY_LIMIT, newestMap } from "../newest.ts"
import { DedupeStore } from "./DedupeStore.ts"

export const dedupeInMemory = (options: { readonly ttl: Duration.Duration; readonly limit?: number }) =>
  Layer.sync(DedupeStore, () => {
    // event id -> expiry (epoch ms); a mark again only extends its time.
    const marks = newestMap<string, number>(options.limit ?? DEFAULT_MEMORY_LIMIT)
    const ttl = Duration.toMillis(options.ttl)
    return DedupeStore.of({
      seen: (eventId) =>
        Effect.map(Clock.currentTimeMillis, (now) => (marks.entries.get(eventId) ?? Number.NEGATIVE_INFINITY) > now),
      markProcessed: (eventId) => Effect.map(Clock.currentTimeMillis, (now) => marks.set(eventId, now + ttl))
    })
  })
