import { assert, it } from "@effect/vitest"
import { Ids } from "@workstream/domain"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { DedupeStore, dedupeInMemory } from "../../src/index.ts"
import { contractSuite, TTL } from "./contract.ts"

contractSuite("in-memory dedupe", dedupeInMemory({ ttl: TTL }), (duration) => TestClock.adjust(duration), {
  live: false
})

it.effect("the in-memory dedupe store remembers only its newest marks; a mark again does not displace another", () =>
  Effect.gen(function* () {
    const store = yield* DedupeStore
    const [a, b, c, d] = yield* Effect.all([Ids.uuidv7, Ids.uuidv7, Ids.uuidv7, Ids.uuidv7])
    for (const id of [a, b, c, b]) yield* store.markProcessed(id)
    assert.deepStrictEqual(yield* Effect.forEach([a, b, c], store.seen), [true, true, true])
    yield* store.markProcessed(d)
    assert.deepStrictEqual(yield* Effect.forEach([a, b, c, d], store.seen), [false, true, true, true])
  }).pipe(Effect.provide(dedupeInMemory({ ttl: Duration.hours(24), limit: 3 })))
)
