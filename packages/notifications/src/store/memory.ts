/**
 * The in-memory record store, for the embedded mode and fast tests: not durable (it lives as
 * long as the process). It runs the same Mongo query through mingo, so filters match the real
 * store's semantics; it keeps the records themselves, not their documents: the query's fields
 * (ids and the event type) are the same strings in both, and an encoding per record was a tenth
 * of the consumer's CPU.
 *
 * It keeps the newest `limit` records and dead letters, dropping the oldest: kept without bound,
 * it grew with every event for as long as the process lived. So it answers "duplicate" only for
 * an event whose record is still among the newest; an older duplicate is recorded again (the
 * dedupe store catches only redeliveries and retried copies, see processEvent).
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

/** How many records (and as many dead letters) the store keeps unless told otherwise. */
export const DEFAULT_MEMORY_LIMIT = 10_000

/** The newest `limit` values, overwriting the oldest; unordered (every listing sorts by id). */
const ring = <V>(limit: number) => {
  const slots: Array<V> = []
  let next = 0
  return {
    slots,
    /** Stores `value` and returns the value it displaced, if the ring was full. */
    push: (value: V): V | undefined => {
      const displaced = slots[next]
      slots[next] = value
      next = (next + 1) % limit
      return displaced
    }
  }
}

export const recordsInMemory = (options: { readonly limit: number } = { limit: DEFAULT_MEMORY_LIMIT }) =>
  Layer.sync(NotificationRecords, () => {
    // NOTIFICATION_MEMORY_LIMIT is checked as it is read; this is for direct callers.
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new RangeError(`the in-memory store's limit must be a whole number of at least 1, not ${options.limit}`)
    }
    // Keyed by event_id: the unique index of the real store. Changed in place, in one synchronous
    // step each (so atomic): copying the map per record made every insert cost the whole store.
    const records = new Map<string, NotificationRecord>()
    // The age order beside the map: deleting a Map's first key walks past every slot deleted
    // before it (3.6 us an insert at 10,000 records, against 0.08 with the ring).
    const recordOrder = ring<string>(options.limit)
    const deadLetters = ring<DeadLetter>(options.limit)

    return NotificationRecords.of({
      record: (record) =>
        Effect.sync(() => {
          if (records.has(record.event_id)) return "duplicate" as const
          records.set(record.event_id, record)
          const oldest = recordOrder.push(record.event_id)
          if (oldest !== undefined) records.delete(oldest)
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
          find<DeadLetter>([...deadLetters.slots], deadLetterQueryOf(after))
            .sort({ id: 1 })
            .limit(limit)
            .all()
        )
    })
  })
