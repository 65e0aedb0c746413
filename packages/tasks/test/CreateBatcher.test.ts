/**
 * `CreateBatcher` against the real database, with one writer whose first statement is held open (a
 * wrapped `TaskChanges`), so the creates arriving meanwhile are known to queue behind it.
 */
import { assert, layer } from "@effect/vitest"
import type { Task } from "@workstream/domain"
import { Clock, Context, DateTime, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import { CallDeadline } from "../src/CallDeadline.ts"
import { CreateBatcher } from "../src/CreateBatcher.ts"
import { type KeyClaim, TaskChanges } from "../src/db/TaskChanges.ts"
import { TaskRepository } from "../src/db/TaskRepository.ts"
import { Overloaded, StoreUnavailable } from "../src/errors.ts"
import { TasksConfig, type TasksSettings } from "../src/TasksConfig.ts"
import { lockTasks, someoneWaitsOnALock, TestDatabase } from "./support/database.ts"
import { created, envelopesOf, timeline } from "./support/fixtures.ts"
import { settingsFor } from "./support/harness.ts"

const Database = Layer.mergeAll(TaskChanges.layer, TaskRepository.layer).pipe(Layer.provideMerge(TestDatabase.layer))

layer(Database, { excludeTestServices: true, timeout: "60 seconds" })("CreateBatcher", (it) => {
  const now = timeline()
  const creation = Effect.gen(function* () {
    const at = yield* now
    const decision = yield* created(at)
    return { task: decision.task, events: (yield* envelopesOf(decision, at)).map((envelope) => ({ envelope })) }
  })
  const claim = (key: string, request_hash: string): KeyClaim => ({
    key,
    request_hash,
    expires_at: DateTime.makeUnsafe(Date.UTC(2100, 0, 1))
  })
  const isStored = (create: { readonly task: Task }) =>
    Effect.map(
      Effect.flatMap(Effect.service(TaskRepository), (repository) => repository.find(create.task.id)),
      Option.isSome
    )

  /**
   * The real `TaskChanges`, but each `createMany` records its size, and the first one waits for
   * `release`; then it writes, or with `writesFirst: false` only answers "written" (a table locked
   * meanwhile would hold it up).
   */
  const heldFirst = ({ writesFirst = true } = {}) =>
    Effect.gen(function* () {
      const real = yield* TaskChanges
      const sizes: Array<number> = []
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const changes = TaskChanges.of({
        ...real,
        createMany: (creates) =>
          Effect.gen(function* () {
            sizes.push(creates.length)
            if (sizes.length === 1) {
              yield* Deferred.succeed(entered, undefined)
              yield* Deferred.await(release)
              if (!writesFirst) return creates.map(() => true)
            }
            return yield* real.createMany(creates)
          })
      })
      return { changes, sizes, entered, release }
    })

  const batcherWith = (
    changes: TaskChanges["Service"],
    overrides: Partial<TasksSettings> = {},
    options: { readonly maxQueued?: number } = {}
  ) =>
    CreateBatcher.layer({ writers: 1, ...options }).pipe(
      Layer.provide(Layer.succeed(TaskChanges, changes)),
      Layer.provide(
        Layer.effect(
          TasksConfig,
          Effect.flatMap(Effect.service(TestDatabase), ({ url }) => settingsFor(url, overrides))
        )
      )
    )

  const lockTasksTable = Effect.flatMap(Effect.service(TestDatabase), ({ url }) => lockTasks(url))

  const assertFailedWith = (cause: string) => (fiber: Fiber.Fiber<boolean, StoreUnavailable | Overloaded>) =>
    Effect.gen(function* () {
      const failure = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(failure, StoreUnavailable)
      assert.strictEqual((failure as StoreUnavailable).cause, cause)
    })

  /** Starts a create now: it has joined the queue when this returns. */
  const start = (batcher: CreateBatcher["Service"], create: Effect.Success<typeof creation>, key?: KeyClaim) =>
    Effect.forkChild(batcher.create(create.task, create.events, key), { startImmediately: true })

  it.effect("creates arriving while a statement runs share the next one, each caller told its own outcome", () =>
    Effect.gen(function* () {
      const held = yield* heldFirst()
      const [first, ...rest] = yield* Effect.forEach([1, 2, 3, 4, 5, 6], () => creation)
      if (first === undefined) return assert.fail()
      const outcomes = yield* Effect.gen(function* () {
        const batcher = yield* CreateBatcher
        const firstFiber = yield* start(batcher, first, claim("k-batch", "first"))
        yield* Deferred.await(held.entered)
        const queued = yield* Effect.forEach(rest, (create, i) =>
          start(batcher, create, i === 0 ? claim("k-batch", "again") : undefined)
        )
        yield* Deferred.succeed(held.release, undefined)
        return [yield* Fiber.join(firstFiber), ...(yield* Effect.forEach(queued, Fiber.join))]
      }).pipe(Effect.provide(batcherWith(held.changes)))
      assert.deepStrictEqual(held.sizes, [1, 5], "the first alone at once, the five queued behind it in one statement")
      assert.deepStrictEqual(outcomes, [true, false, true, true, true, true], "the key's second use is refused")
      assert.deepStrictEqual(yield* Effect.forEach([first, ...rest], isStored), [true, false, true, true, true, true])
    })
  )

  it.effect("a create whose caller stopped waiting before a writer took it is not written", () =>
    Effect.gen(function* () {
      const held = yield* heldFirst()
      const [first, abandoned, later] = yield* Effect.forEach([1, 2, 3], () => creation)
      if (first === undefined || abandoned === undefined || later === undefined) return assert.fail()
      const laterWritten = yield* Effect.gen(function* () {
        const batcher = yield* CreateBatcher
        const firstFiber = yield* start(batcher, first)
        yield* Deferred.await(held.entered)
        yield* Fiber.interrupt(yield* start(batcher, abandoned))
        yield* Deferred.succeed(held.release, undefined)
        assert.isTrue(yield* Fiber.join(firstFiber))
        return yield* batcher.create(later.task, later.events)
      }).pipe(Effect.provide(batcherWith(held.changes)))
      assert.isTrue(laterWritten)
      assert.deepStrictEqual(held.sizes, [1, 1], "no statement carried the abandoned create")
      assert.deepStrictEqual(yield* Effect.forEach([first, abandoned, later], isStored), [true, false, true])
    })
  )

  it.effect("a create finding maxQueued creates waiting is refused at once and never written; those waiting are", () =>
    Effect.gen(function* () {
      const held = yield* heldFirst()
      const [first, ...rest] = yield* Effect.forEach([1, 2, 3, 4], () => creation)
      const [second, third, refused] = rest
      if (first === undefined || second === undefined || third === undefined || refused === undefined) {
        return assert.fail()
      }
      yield* Effect.gen(function* () {
        const batcher = yield* CreateBatcher
        const firstFiber = yield* start(batcher, first)
        yield* Deferred.await(held.entered)
        const waiting = yield* Effect.forEach([second, third], (create) => start(batcher, create))
        assert.instanceOf(yield* Effect.flip(Fiber.join(yield* start(batcher, refused))), Overloaded)
        yield* Deferred.succeed(held.release, undefined)
        assert.deepStrictEqual(yield* Effect.forEach([firstFiber, ...waiting], Fiber.join), [true, true, true])
      }).pipe(Effect.provide(batcherWith(held.changes, {}, { maxQueued: 2 })))
      assert.deepStrictEqual(yield* Effect.forEach([first, second, third, refused], isStored), [
        true,
        true,
        true,
        false
      ])
    })
  )

  it.effect(
    "a statement past DATABASE_TIMEOUT is cancelled: its create and the one queued behind it are answered 'timed out' and never written",
    () =>
      Effect.gen(function* () {
        const [stuck, queued, next] = yield* Effect.forEach([1, 2, 3], () => creation)
        if (stuck === undefined || queued === undefined || next === undefined) return assert.fail()
        const lock = yield* lockTasksTable
        const nextWritten = yield* Effect.gen(function* () {
          const batcher = yield* CreateBatcher
          const fibers = [yield* start(batcher, stuck)]
          yield* someoneWaitsOnALock
          fibers.push(yield* start(batcher, queued))
          yield* Effect.forEach(fibers, assertFailedWith("timed out"))
          yield* lock.release
          return yield* batcher.create(next.task, next.events)
        }).pipe(Effect.provide(batcherWith(yield* TaskChanges, { databaseTimeout: Duration.seconds(1) })))
        assert.isTrue(nextWritten, "the writer goes on")
        assert.deepStrictEqual(yield* Effect.forEach([stuck, queued, next], isStored), [false, false, true])
      })
  )

  it.effect("a create whose call has less time left than a statement needs is answered 'timed out' unwritten", () =>
    Effect.gen(function* () {
      const [late, next] = yield* Effect.forEach([1, 2], () => creation)
      if (late === undefined || next === undefined) return assert.fail()
      const nextWritten = yield* Effect.gen(function* () {
        const batcher = yield* CreateBatcher
        const almostOver = (yield* Clock.currentTimeMillis) + 20
        yield* assertFailedWith("timed out")(
          yield* start(batcher, late).pipe(Effect.provideService(CallDeadline, almostOver))
        )
        return yield* batcher.create(next.task, next.events)
      }).pipe(Effect.provide(batcherWith(yield* TaskChanges, { databaseTimeout: Duration.seconds(30) })))
      assert.isTrue(nextWritten, "a create with its call's time left is written")
      assert.deepStrictEqual(yield* Effect.forEach([late, next], isStored), [false, true])
    })
  )

  it.effect(
    "a statement is cancelled at its call's deadline when that comes before DATABASE_TIMEOUT, so it never commits after the caller's answer",
    () =>
      Effect.gen(function* () {
        const [stuck] = yield* Effect.forEach([1], () => creation)
        if (stuck === undefined) return assert.fail()
        const lock = yield* lockTasksTable
        yield* Effect.gen(function* () {
          const batcher = yield* CreateBatcher
          const callDeadline = (yield* Clock.currentTimeMillis) + 1_000
          const fiber = yield* start(batcher, stuck).pipe(Effect.provideService(CallDeadline, callDeadline))
          yield* someoneWaitsOnALock
          // Answered at the call's deadline (1 s), long before DATABASE_TIMEOUT's (30 s) would come.
          yield* assertFailedWith("timed out")(fiber).pipe(Effect.timeout(Duration.seconds(4)))
          yield* lock.release
        }).pipe(Effect.provide(batcherWith(yield* TaskChanges, { databaseTimeout: Duration.seconds(30) })))
        assert.isFalse(yield* isStored(stuck), "the cancelled statement wrote nothing once the table was free")
      })
  )

  it.effect(
    "creates whose calls have little time left share a statement only with each other: its cancel at their deadline spares the others",
    () =>
      Effect.gen(function* () {
        const held = yield* heldFirst({ writesFirst: false })
        const [first, hurried, unhurried] = yield* Effect.forEach([1, 2, 3], () => creation)
        if (first === undefined || hurried === undefined || unhurried === undefined) return assert.fail()
        const unhurriedWritten = yield* Effect.gen(function* () {
          const batcher = yield* CreateBatcher
          const firstFiber = yield* start(batcher, first)
          yield* Deferred.await(held.entered)
          const callDeadline = (yield* Clock.currentTimeMillis) + 1_000
          const hurriedFiber = yield* start(batcher, hurried).pipe(Effect.provideService(CallDeadline, callDeadline))
          const unhurriedFiber = yield* start(batcher, unhurried)
          const lock = yield* lockTasksTable
          // The writer takes both at once, when the first statement ends.
          yield* Deferred.succeed(held.release, undefined)
          assert.isTrue(yield* Fiber.join(firstFiber))
          yield* assertFailedWith("timed out")(hurriedFiber).pipe(Effect.timeout(Duration.seconds(4)))
          yield* lock.release
          return yield* Fiber.join(unhurriedFiber)
        }).pipe(Effect.provide(batcherWith(held.changes, { databaseTimeout: Duration.seconds(30) })))
        assert.deepStrictEqual(held.sizes, [1, 1, 1], "the two taken together went in statements of their own")
        assert.isTrue(unhurriedWritten, "the statement with time to spare waited for the lock and was written")
        assert.deepStrictEqual(yield* Effect.forEach([hurried, unhurried], isStored), [false, true])
      })
  )

  it.effect("at shutdown, the statement being written is cancelled and every create is answered StoreUnavailable", () =>
    Effect.gen(function* () {
      const [inFlight, queued] = yield* Effect.forEach([1, 2], () => creation)
      if (inFlight === undefined || queued === undefined) return assert.fail()
      const lock = yield* lockTasksTable
      const scope = yield* Scope.make()
      const services = yield* Layer.buildWithScope(batcherWith(yield* TaskChanges), scope)
      const batcher = Context.get(services, CreateBatcher)
      const fibers = [yield* start(batcher, inFlight)]
      yield* someoneWaitsOnALock
      fibers.push(yield* start(batcher, queued))
      yield* Scope.close(scope, Exit.void)
      yield* Effect.forEach(fibers, assertFailedWith("the service is shutting down"))
      yield* lock.release
      assert.deepStrictEqual(yield* Effect.forEach([inFlight, queued], isStored), [false, false])
      assert.deepStrictEqual(
        yield* Effect.flip(batcher.create(queued.task, queued.events)),
        new StoreUnavailable({ operation: "create", cause: "the service is shutting down" }),
        "nothing joins after"
      )
    })
  )
})
