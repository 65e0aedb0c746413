/**
 * `TaskChanges` against the real database: a change, its events and its key claim are written
 * together or not at all, and concurrent writers of one key or one version settle on one winner.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, layer } from "@effect/vitest"
import { type NewTaskFields, type Task, type TaskId, TaskJson } from "@workstream/domain"
import { DateTime, Deferred, Duration, Effect, Fiber, Layer, Option, Queue, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { IdempotencyKeys } from "../../src/db/IdempotencyKeys.ts"
import { CHANNEL } from "../../src/db/OutboxStore.ts"
import { type KeyClaim, TaskChanges } from "../../src/db/TaskChanges.ts"
import { TaskRepository } from "../../src/db/TaskRepository.ts"
import { createOne, otherClient, someoneWaitsOnALock, TestDatabase } from "../support/database.ts"
import { BASE_MS, created, envelopesOf, type Transition, timeline, transitioned } from "../support/fixtures.ts"

const Changes = Layer.mergeAll(TaskChanges.layer, TaskRepository.layer, IdempotencyKeys.layer).pipe(
  Layer.provideMerge(TestDatabase.layerWith({ maxConnections: 10 }))
)

const encode = Schema.encodeSync(TaskJson)
/** Compares tasks by their wire form: every field, to the millisecond, and which optional keys are present. */
const assertSameTask = (actual: Task, expected: Task) => assert.deepStrictEqual(encode(actual), encode(expected))

layer(Changes, { excludeTestServices: true, timeout: "60 seconds" })("TaskChanges", (it) => {
  const now = timeline()
  const changes = Effect.service(TaskChanges)
  // Far enough ahead of the real clock that these keys are live whenever the suite runs.
  const T = DateTime.makeUnsafe(Date.UTC(2100, 0, 1))
  const claim = (key: string, request_hash: string, expires_at = T): KeyClaim => ({ key, request_hash, expires_at })

  /** A decision made at a fresh instant: its task, and its events as outbox rows. */
  const decided = (decide: (at: number) => ReturnType<typeof transitioned>) =>
    Effect.gen(function* () {
      const at = yield* now
      const decision = yield* decide(at)
      const events = (yield* envelopesOf(decision, at)).map((envelope) => ({ envelope }))
      return { task: decision.task, events }
    })
  const creation = (fields: NewTaskFields = { title: "A task" }) => decided((at) => created(at, fields))
  const transition = (task: Task, name: Transition) => decided((at) => transitioned(task, name, at))

  /** What is stored of a task: its row, and the ids of the outbox rows about it, in seq order. */
  const stored = (id: TaskId) =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const task = yield* (yield* TaskRepository).find(id)
      const rows = yield* sql<{ event_id: string }>`
        SELECT event_id::text AS event_id FROM outbox WHERE task_id = ${id} ORDER BY seq`
      return { task, events: rows.map((row) => row.event_id) }
    })
  const idsOf = (events: ReadonlyArray<{ readonly envelope: { readonly event_id: string } }>) =>
    events.map((row) => row.envelope.event_id)

  it.effect(
    "a create writes its task and events and notifies the relays once, at commit; a rolled-back one leaves nothing",
    () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const pg = yield* PgClient.PgClient
        const { url } = yield* TestDatabase
        const notifications = yield* pg.listen(CHANNEL)
        // Markers come from another client, so they never ride on the transaction under test.
        const mark = (payload: string) =>
          Effect.flatMap(Effect.service(PgClient.PgClient), (other) => other.notify(CHANNEL, payload)).pipe(
            Effect.provide(otherClient(url))
          )
        const next = Effect.map(Queue.take(notifications).pipe(Effect.timeout("5 seconds")), (n) => n.payload)

        const rolledBack = yield* creation()
        const failure = yield* Effect.flip(
          sql.withTransaction(
            Effect.andThen(createOne(rolledBack.task, rolledBack.events), Effect.fail("rolled back" as const))
          )
        )
        assert.strictEqual(failure, "rolled back")
        assert.deepStrictEqual(yield* stored(rolledBack.task.id), { task: Option.none(), events: [] })

        const { task, events } = yield* creation()
        yield* sql.withTransaction(
          Effect.gen(function* () {
            assert.isTrue(yield* createOne(task, events))
            yield* mark("while the transaction is open")
            assert.strictEqual(yield* next, "while the transaction is open", "nothing is delivered before commit")
          })
        )
        const eventless = yield* creation()
        assert.isTrue(yield* createOne(eventless.task, []))
        yield* mark("after commit")
        assert.strictEqual(yield* next, "", "the create's one notification, at commit")
        assert.strictEqual(yield* next, "after commit", "none for the rolled-back create or the one without events")

        const written = yield* stored(task.id)
        assertSameTask(Option.getOrThrow(written.task), task)
        assert.deepStrictEqual(written.events, idsOf(events))
        assert.deepStrictEqual((yield* stored(eventless.task.id)).events, [])
      })
  )

  it.effect("a create with a live key writes nothing: no task, no event, and the key keeps its first request", () =>
    Effect.gen(function* () {
      const keys = yield* IdempotencyKeys
      const first = yield* creation()
      const second = yield* creation()
      assert.isTrue(yield* createOne(first.task, first.events, claim("k-refused", "hash-a")))
      assert.isFalse(yield* createOne(second.task, second.events, claim("k-refused", "hash-b")))
      assert.deepStrictEqual(yield* stored(second.task.id), { task: Option.none(), events: [] })
      assert.deepStrictEqual((yield* stored(first.task.id)).events, idsOf(first.events))
      assert.deepStrictEqual(
        yield* keys.find("k-refused", DateTime.makeUnsafe(BASE_MS)),
        Option.some({ request_hash: "hash-a", task_id: first.task.id })
      )
    })
  )

  it.effect("an expired key not yet deleted is claimed again, for a new request", () =>
    Effect.gen(function* () {
      const keys = yield* IdempotencyKeys
      const past = DateTime.subtractDuration(yield* DateTime.now, Duration.minutes(1))
      const old = yield* creation()
      assert.isTrue(yield* createOne(old.task, old.events, claim("k-reused", "old", past)))
      assert.isTrue(Option.isNone(yield* keys.find("k-reused", yield* DateTime.now)))
      const fresh = yield* creation()
      assert.isTrue(yield* createOne(fresh.task, fresh.events, claim("k-reused", "new")))
      assert.deepStrictEqual(
        yield* keys.find("k-reused", yield* DateTime.now),
        Option.some({ request_hash: "new", task_id: fresh.task.id })
      )
      assertSameTask(Option.getOrThrow((yield* stored(fresh.task.id)).task), fresh.task)
    })
  )

  it.effect("concurrent creates with one key: exactly one is written, with its key, task and events", () =>
    Effect.gen(function* () {
      const keys = yield* IdempotencyKeys
      const racers = yield* Effect.forEach(["a", "b", "c", "d", "e", "f"], (hash) =>
        Effect.map(creation(), (c) => ({ ...c, hash }))
      )
      const results = yield* Effect.forEach(racers, (r) => createOne(r.task, r.events, claim("k-race", r.hash)), {
        concurrency: "unbounded"
      })
      assert.strictEqual(results.filter(Boolean).length, 1, `results: ${results}`)
      const winner = racers[results.indexOf(true)] ?? assert.fail()
      assert.deepStrictEqual(
        yield* keys.find("k-race", DateTime.makeUnsafe(BASE_MS)),
        Option.some({ request_hash: winner.hash, task_id: winner.task.id })
      )
      for (const racer of racers) {
        const { task, events } = yield* stored(racer.task.id)
        assert.strictEqual(Option.isSome(task), racer === winner)
        assert.deepStrictEqual(events, racer === winner ? idsOf(racer.events) : [])
      }
    })
  )

  it.effect(
    "creates in one statement: each with its own events; a key repeated among them, or live already, refuses its create alone",
    () =>
      Effect.gen(function* () {
        const keys = yield* IdempotencyKeys
        const [live, first, keyless, repeat, taken] = yield* Effect.forEach([1, 2, 3, 4, 5], () => creation())
        if (!live || !first || !keyless || !repeat || !taken) return assert.fail()
        assert.isTrue(yield* createOne(live.task, live.events, claim("k-many-live", "live")))
        const written = yield* (yield* changes).createMany([
          { ...first, key: claim("k-many", "first") },
          keyless,
          { ...repeat, key: claim("k-many", "repeat") },
          { ...taken, key: claim("k-many-live", "taken") }
        ])
        assert.deepStrictEqual(written, [true, true, false, false])
        for (const { task, events } of [first, keyless]) {
          const row = yield* stored(task.id)
          assertSameTask(Option.getOrThrow(row.task), task)
          assert.deepStrictEqual(row.events, idsOf(events))
        }
        for (const { task } of [repeat, taken]) {
          assert.deepStrictEqual(yield* stored(task.id), { task: Option.none(), events: [] })
        }
        assert.deepStrictEqual(
          yield* keys.find("k-many", DateTime.makeUnsafe(BASE_MS)),
          Option.some({ request_hash: "first", task_id: first.task.id })
        )
      })
  )

  it.effect("two writers claiming the same keys in opposite orders wait on each other, never deadlock", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const [first, second, other1, other2] = yield* Effect.forEach([1, 2, 3, 4], () => creation())
      if (!first || !second || !other1 || !other2) return assert.fail()
      const holding = yield* Deferred.make<void>()
      const goOn = yield* Deferred.make<void>()
      // One transaction claims k-order-1, then, once the statement below waits, k-order-2.
      const transaction = yield* Effect.forkChild(
        sql.withTransaction(
          Effect.gen(function* () {
            const one = yield* createOne(first.task, first.events, claim("k-order-1", "transaction"))
            yield* Deferred.succeed(holding, undefined)
            yield* Deferred.await(goOn)
            return [one, yield* createOne(second.task, second.events, claim("k-order-2", "transaction"))]
          })
        )
      )
      yield* Deferred.await(holding)
      // Listed the other way round: had it claimed k-order-2 before waiting on k-order-1, each would wait on the other.
      const statement = yield* Effect.forkChild(
        Effect.flatMap(changes, (c) =>
          c.createMany([
            { ...other2, key: claim("k-order-2", "statement") },
            { ...other1, key: claim("k-order-1", "statement") }
          ])
        )
      )
      yield* someoneWaitsOnALock
      yield* Deferred.succeed(goOn, undefined)
      assert.deepStrictEqual(yield* Fiber.join(transaction), [true, true])
      assert.deepStrictEqual(yield* Fiber.join(statement), [false, false], "both keys were live once it could claim")
    })
  )

  it.effect("a claim waiting on a concurrent one is written when that one rolls back", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const keys = yield* IdempotencyKeys
      const holding = yield* Deferred.make<void>()
      const rollBack = yield* Deferred.make<void>()
      const first = yield* creation()
      const second = yield* creation()
      const firstFiber = yield* Effect.forkChild(
        sql.withTransaction(
          Effect.gen(function* () {
            assert.isTrue(yield* createOne(first.task, first.events, claim("k-rollback", "first")))
            yield* Deferred.succeed(holding, undefined)
            yield* Deferred.await(rollBack)
            return yield* Effect.fail("rolled back" as const)
          })
        )
      )
      yield* Deferred.await(holding)
      const waiting = yield* Effect.forkChild(createOne(second.task, second.events, claim("k-rollback", "second")))
      yield* someoneWaitsOnALock
      yield* Deferred.succeed(rollBack, undefined)
      assert.strictEqual(yield* Effect.flip(Fiber.join(firstFiber)), "rolled back")
      assert.isTrue(yield* Fiber.join(waiting))
      assert.deepStrictEqual(
        yield* keys.find("k-rollback", DateTime.makeUnsafe(BASE_MS)),
        Option.some({ request_hash: "second", task_id: second.task.id })
      )
      assert.deepStrictEqual(yield* stored(first.task.id), { task: Option.none(), events: [] })
      assert.deepStrictEqual((yield* stored(second.task.id)).events, idsOf(second.events))
    })
  )

  it.effect("an update with a stale version writes nothing, its events included", () =>
    Effect.gen(function* () {
      const { task, events } = yield* creation()
      yield* createOne(task, events)
      const started = yield* transition(task, "start")
      assert.isTrue(yield* (yield* changes).update(started.task, task.version, started.events))
      const cancelled = yield* transition(task, "cancel")
      assert.isFalse(
        yield* (yield* changes).update(cancelled.task, task.version, cancelled.events),
        "version 1 is stale: the task is at version 2"
      )
      const written = yield* stored(task.id)
      assertSameTask(Option.getOrThrow(written.task), started.task)
      assert.deepStrictEqual(written.events, [...idsOf(events), ...idsOf(started.events)])
    })
  )

  it.effect("an update of a task that does not exist writes nothing", () =>
    Effect.gen(function* () {
      const { task, events } = yield* creation()
      assert.isFalse(yield* (yield* changes).update(task, 1, events))
      assert.deepStrictEqual(yield* stored(task.id), { task: Option.none(), events: [] })
    })
  )

  it.effect("concurrent updates from the same version: exactly one wins, and what is stored is the winner's", () =>
    Effect.gen(function* () {
      const { task, events } = yield* creation()
      yield* createOne(task, events)
      const names: ReadonlyArray<Transition> = ["start", "complete", "cancel", "start", "cancel", "complete"]
      const candidates = yield* Effect.forEach(names, (name) => transition(task, name))
      const results = yield* Effect.forEach(
        candidates,
        (candidate) => Effect.flatMap(changes, (c) => c.update(candidate.task, task.version, candidate.events)),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.filter(Boolean).length, 1, `results: ${results}`)
      const winner = candidates[results.indexOf(true)] ?? assert.fail()
      const written = yield* stored(task.id)
      assertSameTask(Option.getOrThrow(written.task), winner.task)
      assert.deepStrictEqual(written.events, [...idsOf(events), ...idsOf(winner.events)])
    })
  )

  it.effect("an update that waits on another transaction's uncommitted change loses once that one commits", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const { task, events } = yield* creation()
      yield* createOne(task, events)
      const started = yield* transition(task, "start")
      const cancelled = yield* transition(task, "cancel")

      const holding = yield* Deferred.make<void>()
      const commit = yield* Deferred.make<void>()
      const first = yield* Effect.forkChild(
        sql.withTransaction(
          Effect.gen(function* () {
            const won = yield* (yield* changes).update(started.task, task.version, started.events)
            yield* Deferred.succeed(holding, undefined)
            yield* Deferred.await(commit)
            return won
          })
        )
      )
      yield* Deferred.await(holding)
      const second = yield* Effect.forkChild(
        Effect.flatMap(changes, (c) => c.update(cancelled.task, task.version, cancelled.events))
      )
      // Wait until the second UPDATE is blocked on the first's row lock, then let the first commit.
      yield* someoneWaitsOnALock
      yield* Deferred.succeed(commit, undefined)
      assert.isTrue(yield* Fiber.join(first))
      assert.isFalse(yield* Fiber.join(second), "the second saw version 2 once the first committed")
      const written = yield* stored(task.id)
      assertSameTask(Option.getOrThrow(written.task), started.task)
      assert.deepStrictEqual(written.events, [...idsOf(events), ...idsOf(started.events)])
    })
  )
})
