import { assert, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { NotificationRecords, recordsInMemory, recordsInMemoryUpTo } from "../../src/index.ts"
import { contractSuite, deadLetterFor, recordFor } from "./contract.ts"

contractSuite("in-memory store", recordsInMemory)

it.effect("the in-memory store keeps the newest records and dead letters up to its limit, dropping the oldest", () =>
  Effect.gen(function* () {
    const store = yield* NotificationRecords
    const oldest = yield* recordFor("workstream.task.created.v1")
    const newest = yield* Effect.forEach([1, 2, 3], () => recordFor("workstream.task.created.v1"))
    yield* Effect.forEach([oldest, ...newest], (record) => store.record(record))
    assert.deepStrictEqual(yield* store.get(oldest.event_id), Option.none())
    assert.deepStrictEqual(
      (yield* store.list({ limit: 10 })).map((r) => r.event_id),
      newest.map((r) => r.event_id)
    )
    // Forgotten, so recorded again: the dedupe store is what remembers it for longer.
    assert.strictEqual(yield* store.record(oldest), "recorded")

    const letters = yield* Effect.forEach([1, 2, 3, 4], deadLetterFor)
    yield* Effect.forEach(letters, (letter) => store.recordDeadLetter(letter))
    assert.deepStrictEqual(yield* store.listDeadLetters({ limit: 10 }), letters.slice(1))
  }).pipe(Effect.provide(recordsInMemoryUpTo(3)))
)
