/**
 * The MongoDB record store: a unique index on `event_id` is the guarantee that an event is
 * recorded once, whatever the dedupe cache says; records are only ever inserted. The driver is
 * loaded when the store starts, not with the service: a service on the in-memory store (the
 * embedded mode, the benchmarks) would otherwise carry it for nothing, about 20 MB of RSS.
 */
import { Duration, Effect, Layer, type Redacted } from "effect"
import * as RedactedValue from "effect/Redacted"
import {
  deadLetterQueryOf,
  fromDeadLetterDocument,
  fromDocument,
  NotificationRecords,
  queryOf,
  type RecordOutcome,
  StoreUnavailable,
  toDeadLetterDocument,
  toDocument
} from "./NotificationRecords.ts"

export interface MongoOptions {
  readonly url: Redacted.Redacted<string>
  readonly database: string
  readonly collection?: string
  /** Bound on every operation, server selection included. */
  readonly timeout?: Duration.Duration
}

const DUPLICATE_KEY = 11000

export const recordsInMongo = (options: MongoOptions) =>
  Layer.effect(
    NotificationRecords,
    Effect.gen(function* () {
      const timeout = options.timeout ?? Duration.seconds(5)
      const ms = Duration.toMillis(timeout)
      // A driver that cannot be loaded (an image built without it) fails the start like an unreachable server.
      const { MongoClient, MongoServerError } = yield* Effect.tryPromise({
        try: () => import("mongodb"),
        catch: (cause) => new StoreUnavailable({ operation: "load the driver", cause })
      })
      const client = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () =>
            new MongoClient(RedactedValue.value(options.url), {
              serverSelectionTimeoutMS: ms,
              connectTimeoutMS: ms,
              appName: "workstream-notifications"
            }).connect(),
          catch: (cause) => new StoreUnavailable({ operation: "connect", cause })
        }),
        (c) => Effect.promise(() => c.close())
      )
      const collection = client.db(options.database).collection(options.collection ?? "notifications")
      const deadLetters = client
        .db(options.database)
        .collection(`${options.collection ?? "notifications"}_dead_letters`)

      const run = <A>(operation: string, f: () => Promise<A>) =>
        Effect.tryPromise({ try: f, catch: (cause) => new StoreUnavailable({ operation, cause }) }).pipe(
          Effect.timeoutOrElse({
            duration: timeout,
            orElse: () => Effect.fail(new StoreUnavailable({ operation, cause: "timed out" }))
          })
        )
      const decode = (document: unknown) => Effect.orDie(fromDocument(document))

      yield* run("createIndexes", () =>
        collection.createIndexes([
          { key: { event_id: 1 }, name: "event_id_unique", unique: true },
          { key: { task_id: 1, event_id: 1 }, name: "task_id_event_id" },
          { key: { event_type: 1, event_id: 1 }, name: "event_type_event_id" }
        ])
      )
      yield* run("createIndexes", () =>
        deadLetters.createIndexes([{ key: { id: 1 }, name: "id_unique", unique: true }])
      )

      return NotificationRecords.of({
        record: (record) =>
          run("record", async (): Promise<RecordOutcome> => {
            try {
              await collection.insertOne({ ...toDocument(record) }, { maxTimeMS: ms })
              return "recorded"
            } catch (error) {
              if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return "duplicate"
              throw error
            }
          }),
        get: (eventId) =>
          Effect.flatMap(
            run("get", () => collection.findOne({ event_id: eventId }, { projection: { _id: 0 }, maxTimeMS: ms })),
            (document) => (document === null ? Effect.succeedNone : Effect.asSome(decode(document)))
          ),
        list: (filter) =>
          Effect.flatMap(
            run("list", () =>
              collection
                .find(queryOf(filter), { projection: { _id: 0 }, maxTimeMS: ms })
                .sort({ event_id: 1 })
                .limit(filter.limit)
                .toArray()
            ),
            (documents) => Effect.forEach(documents, decode)
          ),
        recordDeadLetter: (deadLetter) =>
          Effect.asVoid(
            run("recordDeadLetter", () =>
              deadLetters.insertOne({ ...toDeadLetterDocument(deadLetter) }, { maxTimeMS: ms })
            )
          ),
        listDeadLetters: ({ after, limit }) =>
          Effect.flatMap(
            run("listDeadLetters", () =>
              deadLetters
                .find(deadLetterQueryOf(after), { projection: { _id: 0 }, maxTimeMS: ms })
                .sort({ id: 1 })
                .limit(limit)
                .toArray()
            ),
            (documents) => Effect.forEach(documents, (d) => Effect.orDie(fromDeadLetterDocument(d)))
          )
      })
    })
  )
