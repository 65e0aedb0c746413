import { assert, it } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import { NotificationRecords, recordsInMemory } from "../../src/index.ts"
import { contractSuite, deadLetterFor, recordFor } from "./contract.ts"

contractSuite("in-memory store", recordsInMemory())

const created = recordFor("workstream.task.created.v1")
const eventIds = (records: ReadonlyArray<{ readonly event_id: string }>) => records.map((r) => r.event_id).sort()

it.effect("the in-memory store keeps the newest records and dead letters up to its limit, dropping the oldest", () =>
  Effect.gen(function* () {
    const store = yield* NotificationRecords
    const [a, b, c, d] = yield* Effect.all([created, created, created, created])
    for (const record of [a, b, c]) yield* store.record(record)
    // A duplicate is not a new arrival: it neither moves its record nor displaces another.
    assert.strictEqual(yield* store.record(a), "duplicate")
    yield* store.record(d)
    assert.deepStrictEqual(yield* store.get(a.event_id), Option.none())
    assert.deepStrictEqual(eventIds(yield* store.list({ limit: 10 })), eventIds([b, c, d]))
    // Forgotten, so recorded again, and now the newest: the next arrival displaces c, not a.
    assert.strictEqual(yield* store.record(a), "recorded")
    const e = yield* created
    yield* store.record(e)
    assert.deepStrictEqual(eventIds(yield* store.list({ limit: 10 })), eventIds([d, a, e]))

    const letters = yield* Effect.forEach([1, 2, 3, 4], deadLetterFor)
    yield* Effect.forEach(letters, (letter) => store.recordDeadLetter(letter))
    assert.deepStrictEqual(yield* store.listDeadLetters({ limit: 10 }), letters.slice(1))
  }).pipe(Effect.provide(recordsInMemory({ limit: 3 })))
)

it.effect("the in-memory store holds exactly its newest records over many rounds of eviction", () =>
  Effect.gen(function* () {
    const store = yield* NotificationRecords
    const records = yield* Effect.replicateEffect(created, 100)
    yield* Effect.forEach(records, (record) => store.record(record))
    assert.deepStrictEqual(eventIds(yield* store.list({ limit: 100 })), eventIds(records.slice(-7)))
    assert.deepStrictEqual(yield* store.get(records[92]?.event_id ?? ""), Option.none())
  }).pipe(Effect.provide(recordsInMemory({ limit: 7 })))
)

it.effect("an in-memory store of one keeps the last record; a limit under one is refused when it is built", () =>
  Effect.gen(function* () {
    const [a, b] = yield* Effect.all([created, created])
    const kept = yield* Effect.gen(function* () {
      const store = yield* NotificationRecords
      yield* store.record(a)
      yield* store.record(b)
      return eventIds(yield* store.list({ limit: 10 }))
    }).pipe(Effect.provide(recordsInMemory({ limit: 1 })))
    assert.deepStrictEqual(kept, [b.event_id])
    const refused = yield* Effect.exit(
      Effect.provide(Effect.service(NotificationRecords), recordsInMemory({ limit: 0 }))
    )
    assert.isTrue(Exit.isFailure(refused))
  })
)
