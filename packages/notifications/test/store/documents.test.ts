/**
 * The Mongo document shape, checked here without a MongoDB: the Mongo adapter writes records and
 * dead letters through these codecs, and its own suite runs only when MONGO_URL is set.
 */
import { assert, describe, it } from "@effect/vitest"
import { Ids, Lifecycle, TaskCommand } from "@workstream/domain"
import { DateTime, Effect, Option, Result } from "effect"
import {
  type DeadLetter,
  fromDeadLetterDocument,
  fromDocument,
  type NotificationRecord,
  toDeadLetterDocument,
  toDocument
} from "../../src/index.ts"

describe("the stored documents", () => {
  it.effect("a record, optional task fields included, goes into a document with BSON dates and back unchanged", () =>
    Effect.gen(function* () {
      const now = yield* DateTime.now
      const task_id = yield* Ids.taskId
      const { task } = Result.getOrThrow(
        Lifecycle.decide(
          Option.none(),
          TaskCommand.CreateTask({
            task_id,
            fields: {
              title: "Stored",
              description: "with every field",
              assignee: "ada",
              due_at: DateTime.makeUnsafe("2030-01-02T03:04:05Z")
            }
          }),
          now
        )
      )
      const record: NotificationRecord = {
        event_id: yield* Ids.eventId,
        event_type: "workstream.task.created.v1",
        task_id,
        occurred_at: now,
        received_at: DateTime.addDuration(now, "3 millis"),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
        attempts: 2,
        payload: task
      }
      const document = toDocument(record)
      assert.instanceOf(document.occurred_at, Date)
      assert.instanceOf(document.received_at, Date)
      assert.deepInclude(document.payload, { due_at: "2030-01-02T03:04:05.000Z" }, "the payload in its JSON wire shape")
      assert.deepStrictEqual(yield* fromDocument(document), record)
    })
  )

  it.effect("a dead letter goes into a document with a BSON date and back unchanged", () =>
    Effect.gen(function* () {
      const deadLetter: DeadLetter = {
        id: yield* Ids.eventId,
        event_id: "poison-1",
        routing_key: "workstream.task.created.v1",
        reason: "not JSON",
        stage: "decode",
        attempts: 1,
        dead_lettered_at: yield* DateTime.now
      }
      const document = toDeadLetterDocument(deadLetter)
      assert.instanceOf(document.dead_lettered_at, Date)
      assert.deepStrictEqual(yield* fromDeadLetterDocument(document), deadLetter)
    })
  )

  it.effect("a document that is not a record is refused, not returned half-read", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(fromDocument({ event_id: "x", attempts: 0 }))
      assert.strictEqual(error._tag, "SchemaError")
    })
  )
})
