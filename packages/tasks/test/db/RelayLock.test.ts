import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Option, type Scope as S, Schedule, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { RELAY_LOCK_KEY, RelayLock } from "../../src/db/RelayLock.ts"
import { otherClient, TestDatabase } from "../support/database.ts"

// Two connections in this replica's pool: a leaked reservation shows up as a query that cannot get one.
const Lock = RelayLock.layer.pipe(Layer.provideMerge(TestDatabase.layerWith({ maxConnections: 2 })))

layer(Lock, { excludeTestServices: true, timeout: "60 seconds" })("RelayLock", (it) => {
  /** Runs `effect` as another replica would: its own pool on the same database, closed afterwards. */
  const asOtherReplica = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const { url } = yield* TestDatabase
      return yield* effect.pipe(
        Effect.scoped,
        // fresh: Layers are memoized by identity, and this replica must not reuse the test's own RelayLock.
        Effect.provide(Layer.fresh(RelayLock.layer).pipe(Layer.provideMerge(otherClient(url))))
      )
    })
  const otherTries = asOtherReplica(Effect.flatMap(Effect.service(RelayLock), (lock) => lock.tryAcquire))

  /** Sessions holding the relay lock on this database, from pg_locks. */
  const holders = Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ pid: number }>`
      SELECT pid FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = ${RELAY_LOCK_KEY}
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
  })

  /** A scope of its own for a lease, closed by the test or, if the test fails first, with the test. */
  const leaseScope = Effect.flatMap(Effect.scope, (test) => Scope.fork(test))

  const holdIn = (scope: S.Scope) =>
    Effect.flatMap(Effect.service(RelayLock), (lock) => lock.acquire.pipe(Scope.provide(scope)))

  it.effect("while one scope holds the lock every other session is refused; once it closes another takes it", () =>
    Effect.gen(function* () {
      const lock = yield* RelayLock
      const held = yield* leaseScope
      assert.isTrue(Option.isSome(yield* holdIn(held)))
      assert.strictEqual((yield* holders).length, 1)
      assert.isFalse(yield* Effect.scoped(lock.tryAcquire), "another connection of the same replica")
      assert.isFalse(yield* otherTries, "another replica")

      yield* Scope.close(held, Exit.void)
      assert.strictEqual((yield* holders).length, 0, "released on scope close")
      assert.isTrue(yield* otherTries)
      assert.isTrue(yield* Effect.scoped(lock.tryAcquire))
    })
  )

  it.effect("taking and releasing it again and again leaves no lock behind", () =>
    Effect.gen(function* () {
      const lock = yield* RelayLock
      for (let i = 0; i < 5; i++) assert.isTrue(yield* Effect.scoped(lock.tryAcquire))
      assert.strictEqual((yield* holders).length, 0)
      assert.isTrue(yield* otherTries)
    })
  )

  it.effect("a refused attempt gives its connection back at once, not when the caller's scope closes", () =>
    Effect.gen(function* () {
      const lock = yield* RelayLock
      const sql = yield* SqlClient.SqlClient
      const held = yield* leaseScope
      assert.isTrue(Option.isSome(yield* holdIn(held)))
      // One connection is the holder's; the other must be free again after each refusal.
      for (let i = 0; i < 3; i++) {
        assert.isFalse(yield* lock.tryAcquire)
        yield* sql`SELECT 1`.pipe(Effect.timeout("3 seconds"))
      }
      yield* Scope.close(held, Exit.void)
    })
  )

  it.effect("when the holder's session dies its lease fails verification and another replica takes over", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const held = yield* leaseScope
      const lease = yield* holdIn(held)
      if (Option.isNone(lease)) return assert.fail("the lock was free")
      yield* lease.value.verify
      const [holder] = yield* holders
      assert.isDefined(holder)
      assert.isFalse(yield* otherTries)

      // What Postgres does when the holder's process dies: its session ends, and the lock with it.
      yield* sql`SELECT pg_terminate_backend(${holder?.pid ?? 0})`
      yield* Effect.flip(lease.value.verify.pipe(Effect.timeout("5 seconds")))
      yield* otherTries.pipe(
        Effect.filterOrFail((taken) => taken),
        Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ duration: "10 seconds" })))
      )
      // Releasing a lease whose connection is gone finishes, quietly.
      yield* Scope.close(held, Exit.void).pipe(Effect.timeout("5 seconds"))
    })
  )
})
