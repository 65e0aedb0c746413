/**
 * The in-memory record store, for the embedded mode and fast tests: not durable (it lives as
 * long as the process). It runs the same Mongo query through mingo, so filters match the real
 * store's semantics; it keeps the records themselves, not their documents: the query's fields
 * (ids and the event type) are the same strings in both, and an encoding per record was a tenth
 * of the consumer's CPU.
 *
 * It keeps the newest `limit` records and dead letters, dropping the oldest (see newest.ts). So
 * it answers "duplicate" only for an event whose record is still among the newest; an older
 * duplicate is recorded again (the dedupe store catches only redeliveries and retried copies, see
 * processEvent).
 */
import { Effect, Layer, Option } from "effect"
import { find } from "mingo"
import { DEFAULT_MEMORY_LIMIT, newestMap, ring } from "../newest.ts"
import {
  type DeadLetter,
  deadLetterQueryOf,
  type NotificationRecord,
  NotificationRecords,
  queryOf
} from "./NotificationRecords.ts"

export const recordsInMemory = (options: { readonly limit: number } = { limit: DEFAULT_MEMORY_LIMIT }) =>
  Layer.sync(NotificationRecords, () => {
    // Keyed by event_id: the unique index of the real store. Changed in place, in one synchronous
    // step each (so atomic): copying the map per record made every insert cost the whole store.
    const records = newestMap<string, NotificationRecord>(options.limit)
    const deadLetters = ring<DeadLetter>(options.limit)

    return NotificationRecords.of({
      record: (record) =>
        Effect.sync(() => {
          if (records.entries.has(record.event_id)) return "duplicate" as const
          records.set(record.event_id, record)
          return "recorded" as const
        }),
      get: (eventId) => Effect.sync(() => Option.fromUndefinedOr(records.entries.get(eventId))),
      list: (filter) =>
        Effect.sync(() =>
          find<NotificationRecord>([...records.entries.values()], queryOf(filter))
            .sort({ event_id: 1 })
            .limit(filter.limit)
            .all()
        ),
      recordDeadLetter: (deadLetter) => Effect.sync(() => void deadLetters.push(deadLetter)),
      listDeadLetters: ({ after, limit }) =>
        Effect.sync(() =>
          find<DeadLetter>([...deadLetters.slots], deadLetterQueryOf(after))
            .sort({ id: 1 })
            .limit(limit)
            .all()
        )
    })
  })
