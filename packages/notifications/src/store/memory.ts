/**
 * The in-memory record store, for the embedded mode and fast tests: not durable (it lives as
 * long as the process). It runs the same Mongo query through mingo, so filters match the real
 * store's semantics; it keeps the records themselves, not their documents: the query's fields
 * (ids and the event type) are the same strings in both, and an encoding per record was a tenth
 * of the consumer's CPU.
 *
 * It keeps the newest `limit` records and dead letters, dropping the oldest: kept without bound,
 * a long-running embedded system grew until its heap ran out (about 600 bytes a record). So an
 * event is recorded once only while its record is among the newest; the dedupe store, which
 * answers first, still remembers it for `DEDUPE_TTL`.
 */
import { Effect, Layer, Option } from "effect"
import { find } from "mingo"
import {
  type DeadLetter,
  deadLetterQueryOf,
  type NotificationRecord,
  NotificationRecords,
  queryOf
} from "./NotificationRecords.ts"

/** How many records (and, apart, dead letters) the store keeps unless told otherwise. */
export const MEMORY_STORE_LIMIT = 10_000

/** Adds in place (one synchronous step, so atomic), then drops the oldest entry past `limit`. */
const keepNewest = <V>(entries: Map<string, V>, limit: number, key: string, value: V) => {
  entries.set(key, value)
  // A Map iterates in insertion order, so its first key is the oldest.
  if (entries.size > limit) entries.delete(entries.keys().next().value as string)
}

export const recordsInMemoryUpTo = (limit: number) =>
  Layer.sync(NotificationRecords, () => {
    // Keyed by event_id: the unique index of the real store. Copying the map per record made
    // every insert cost the whole store, so it changes in place.
    const records = new Map<string, NotificationRecord>()
    const deadLetters = new Map<string, DeadLetter>()

    return NotificationRecords.of({
      record: (record) =>
        Effect.sync(() => {
          if (records.has(record.event_id)) return "duplicate" as const
          keepNewest(records, limit, record.event_id, record)
          return "recorded" as const
        }),
      get: (eventId) => Effect.sync(() => Option.fromUndefinedOr(records.get(eventId))),
      list: (filter) =>
        Effect.sync(() =>
          find<NotificationRecord>([...records.values()], queryOf(filter))
            .sort({ event_id: 1 })
            .limit(filter.limit)
            .all()
        ),
      recordDeadLetter: (deadLetter) => Effect.sync(() => keepNewest(deadLetters, limit, deadLetter.id, deadLetter)),
      listDeadLetters: ({ after, limit: pageSize }) =>
        Effect.sync(() =>
          find<DeadLetter>([...deadLetters.values()], deadLetterQueryOf(after))
            .sort({ id: 1 })
            .limit(pageSize)
            .all()
        )
    })
  })

export const recordsInMemory = recordsInMemoryUpTo(MEMORY_STORE_LIMIT)
