/** The contract every NotificationRecords adapter passes: one suite, run against each. */
import { assert, layer } from "@effect/vitest"
import { type EventType, Ids, Lifecycle, TaskCommand } from "@workstream/domain"
import { DateTime, Effect, type Layer, Option, Result } from "effect"
import {
  type DeadLetter,
  type NotificationRecord,
  NotificationRecords,
  type StoreUnavailable
} from "../../src/index.ts"

export const recordFor = (eventType: EventType, overrides: Partial<NotificationRecord> = {}) =>
  Effect.gen(function* () {
    const now = yield* DateTime.now
    const task_id = yield* Ids.taskId
    const { task } = Result.getOrThrow(
      Lifecycle.decide(Option.none(), TaskCommand.CreateTask({ task_id, fields: { title: "Recorded" } }), now)
    )
    const record: NotificationRecord = {
      event_id: yield* Ids.eventId,
      event_type: eventType,
      task_id,
      occurred_at: now,
      received_at: now,
      trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
      attempts: 1,
      payload: task,
      ...overrides
    }
    return record
  })

export const deadLetterFor = (attempts: number) =>
  Effect.gen(function* () {
    const letter: DeadLetter = {
      id: yield* Ids.uuidv7,
      event_id: attempts === 1 ? "" : `not-a-uuid-${attempts}`,
      routing_key: "workstream.task.created.v1",
      reason: `reason ${attempts}`,
      stage: attempts === 3 ? "process" : "decode",
      attempts,
      dead_lettered_at: yield* DateTime.now
    }
    return letter
  })

export const contractSuite = (name: string, store: Layer.Layer<NotificationRecords, StoreUnavailable>) =>
  layer(store, { timeout: "30 seconds", excludeTestServices: true })(
    `${name}: the NotificationRecords contract`,
    (it) => {
      const records = Effect.service(NotificationRecords)

      it.effect("records an event and gives it back as it was", () =>
        Effect.gen(function* () {
          const store = yield* records
          const record = yield* recordFor("workstream.task.created.v1")
          assert.strictEqual(yield* store.record(record), "recorded")
          assert.deepStrictEqual(yield* store.get(record.event_id), Option.some(record))
          assert.deepStrictEqual(yield* store.get("01932c07-a5b0-7c3e-9f2a-000000000000"), Option.none())
        })
      )

      it.effect("records an event once: a second record of its id is a duplicate and changes nothing", () =>
        Effect.gen(function* () {
          const store = yield* records
          const record = yield* recordFor("workstream.task.created.v1")
          const outcomes = yield* Effect.forEach(
            [record, record, { ...record, attempts: 7 }, record, record],
            (r) => store.record(r),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual([...outcomes].sort(), ["duplicate", "duplicate", "duplicate", "duplicate", "recorded"])
          const stored = yield* store.get(record.event_id)
          assert.isTrue(Option.isSome(stored))
          assert.strictEqual(Option.getOrThrow(stored).attempts, outcomes[2] === "recorded" ? 7 : 1)
        })
      )

      it.effect("lists by task and by event type, in event_id order, page by page", () =>
        Effect.gen(function* () {
          const store = yield* records
          const first = yield* recordFor("workstream.task.created.v1")
          const task_id = first.task_id
          const events = [first]
          for (const type of ["workstream.task.started.v1", "workstream.task.completed.v1"] as const) {
            events.push(yield* recordFor(type, { task_id }))
          }
          yield* Effect.forEach(events, (e) => store.record(e))
          const ofTask = yield* store.list({ task_id, limit: 10 })
          assert.deepStrictEqual(
            ofTask.map((r) => r.event_id),
            events.map((e) => e.event_id)
          )
          const completed = yield* store.list({ task_id, event_type: "workstream.task.completed.v1", limit: 10 })
          assert.deepStrictEqual(
            completed.map((r) => r.event_type),
            ["workstream.task.completed.v1"]
          )
          const page1 = yield* store.list({ task_id, limit: 2 })
          const page2 = yield* store.list({ task_id, limit: 2, after: page1.at(-1)?.event_id })
          assert.deepStrictEqual(
            [...page1, ...page2].map((r) => r.event_id),
            events.map((e) => e.event_id)
          )
        })
      )

      it.effect("keeps every dead letter, listed in the order they happened, page by page", () =>
        Effect.gen(function* () {
          const store = yield* records
          const letters = yield* Effect.forEach([1, 2, 3], deadLetterFor)
          yield* Effect.forEach(letters, (letter) => store.recordDeadLetter(letter))
          const page = yield* store.listDeadLetters({ after: letters[0]?.id, limit: 1 })
          assert.deepStrictEqual(page, letters.slice(1, 2))
          const rest = yield* store.listDeadLetters({ after: page[0]?.id, limit: 10 })
          assert.deepStrictEqual(rest, letters.slice(2))
        })
      )
    }
  )
