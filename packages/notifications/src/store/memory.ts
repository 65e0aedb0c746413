/**
 * The in-memory record store, for the embedded mode and fast tests: not durable (it lives as
 * long as the process). It runs the same Mongo query through mingo, so filters match the real
 * store's semantics.
 */
import { Effect, Layer, Ref } from "effect"
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

export const recordsInMemory = Layer.effect(
  NotificationRecords,
  Effect.gen(function* () {
    // Keyed by event_id: the unique index of the real store.
    const documents = yield* Ref.make(new Map<string, Document>())
    const decode = (document: unknown) => Effect.orDie(fromDocument(document))
    const deadLetters = yield* Ref.make<ReadonlyArray<ReturnType<typeof toDeadLetterDocument>>>([])

    return NotificationRecords.of({
      record: (record) =>
        Ref.modify(documents, (all) => {
          if (all.has(record.event_id)) return ["duplicate" as const, all]
          return ["recorded" as const, new Map(all).set(record.event_id, toDocument(record))]
        }),
      get: (eventId) =>
        Effect.flatMap(Ref.get(documents), (all) => {
          const document = all.get(eventId)
          return document === undefined ? Effect.succeedNone : Effect.asSome(decode(document))
        }),
      list: (filter) =>
        Effect.flatMap(Ref.get(documents), (all) =>
          Effect.forEach(
            find([...all.values()], queryOf(filter))
              .sort({ event_id: 1 })
              .limit(filter.limit)
              .all(),
            decode
          )
        ),
      recordDeadLetter: (deadLetter) => Ref.update(deadLetters, (all) => [...all, toDeadLetterDocument(deadLetter)]),
      listDeadLetters: ({ after, limit }) =>
        Effect.flatMap(Ref.get(deadLetters), (all) =>
          Effect.forEach(
            find([...all], deadLetterQueryOf(after))
              .sort({ id: 1 })
              .limit(limit)
              .all(),
            (document) => Effect.orDie(fromDeadLetterDocument(document))
          )
        )
    })
  })
)
