/**
 * The in-memory record store, for the embedded mode and fast tests: not durable (it lives as
 * long as the process). It runs the same Mongo query through mingo, so filters match the real
 * store's semantics; it keeps the records themselves, not their documents: the query's fields
 * (ids and the event type) are the same strings in both, and an encoding per record was a tenth
 * of the consumer's CPU.
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

export const recordsInMemory = Layer.sync(NotificationRecords, () => {
  // Keyed by event_id: the unique index of the real store. Changed in place, in one synchronous
  // step each (so atomic): copying the map per record made every insert cost the whole store.
  const records = new Map<string, NotificationRecord>()
  const deadLetters: Array<DeadLetter> = []

  return NotificationRecords.of({
    record: (record) =>
      Effect.sync(() => {
        if (records.has(record.event_id)) return "duplicate" as const
        records.set(record.event_id, record)
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
    recordDeadLetter: (deadLetter) => Effect.sync(() => void deadLetters.push(deadLetter)),
    listDeadLetters: ({ after, limit }) =>
      Effect.sync(() =>
        find<DeadLetter>([...deadLetters], deadLetterQueryOf(after))
          .sort({ id: 1 })
          .limit(limit)
          .all()
      )
  })
})
