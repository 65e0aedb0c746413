/**
 * The in-memory record store, for the embedded mode and fast tests: not durable (it lives as
 * long as the process). It runs the same Mongo query through mingo, so filters match the real
 * store's semantics.
 */
import { Effect, Layer } from "effect"
import { find } from "mingo"
import {
  deadLetterQueryOf,
  fromDeadLetterDocument,
  fromDocument,
  NotificationRecords,
  queryOf,
  toDeadLetterDocument,
  toDocument
} from "./NotificationRecords.ts"

type Document = ReturnType<typeof toDocument>

export const recordsInMemory = Layer.sync(NotificationRecords, () => {
  // Keyed by event_id: the unique index of the real store. Changed in place, in one synchronous
  // step each (so atomic): copying the map per record made every insert cost the whole store.
  const documents = new Map<string, Document>()
  const decode = (document: unknown) => Effect.orDie(fromDocument(document))
  const deadLetters: Array<ReturnType<typeof toDeadLetterDocument>> = []

  return NotificationRecords.of({
    record: (record) =>
      Effect.sync(() => {
        if (documents.has(record.event_id)) return "duplicate" as const
        documents.set(record.event_id, toDocument(record))
        return "recorded" as const
      }),
    get: (eventId) =>
      Effect.suspend(() => {
        const document = documents.get(eventId)
        return document === undefined ? Effect.succeedNone : Effect.asSome(decode(document))
      }),
    list: (filter) =>
      Effect.suspend(() =>
        Effect.forEach(
          find([...documents.values()], queryOf(filter))
            .sort({ event_id: 1 })
            .limit(filter.limit)
            .all(),
          decode
        )
      ),
    recordDeadLetter: (deadLetter) => Effect.sync(() => void deadLetters.push(toDeadLetterDocument(deadLetter))),
    listDeadLetters: ({ after, limit }) =>
      Effect.suspend(() =>
        Effect.forEach(
          find([...deadLetters], deadLetterQueryOf(after))
            .sort({ id: 1 })
            .limit(limit)
            .all(),
          (document) => Effect.orDie(fromDeadLetterDocument(document))
        )
      )
  })
})
