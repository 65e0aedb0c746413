/**
 * A database of its own for a test file: created on the local server, migrated, reachable
 * through `PgClient`/`SqlClient`, and dropped (with any session still on it) when the scope closes.
 *
 *   layer(TestDatabase.layer, { excludeTestServices: true })("TaskRepository", (it) => { ... })
 */
import { randomBytes } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import type { Task } from "@workstream/domain"
import { Context, Deferred, Effect, Fiber, Layer, Redacted, Schedule, type Scope } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import * as Migrations from "../../src/db/migrations.ts"
import type { NewOutboxRow } from "../../src/db/OutboxStore.ts"
import { type KeyClaim, TaskChanges } from "../../src/db/TaskChanges.ts"

export const SERVER_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** Runs one statement on the server's own database (CREATE/DROP DATABASE cannot run on the one they change). */
const onServer = (statement: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(statement)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(SERVER_URL), maxConnections: 1 })))

/** Creates `ws_test_<random>` for the scope's lifetime and returns its URL. */
export const scratchDatabase: Effect.Effect<
  { readonly name: string; readonly url: string },
  SqlError.SqlError,
  Scope.Scope
> = Effect.gen(function* () {
  // Not Effect's Random: under the test services it is seeded the same in every file, and files run in parallel.
  const name = `ws_test_${randomBytes(6).toString("hex")}`
  yield* Effect.acquireRelease(onServer(`CREATE DATABASE ${name}`), () =>
    onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(
      Effect.catchCause((cause) => Effect.logWarning(`test database ${name} was not dropped`, cause))
    )
  )
  const url = new URL(SERVER_URL)
  url.pathname = `/${name}`
  return { name, url: url.toString() }
})

/** Where the test database lives, for tests that open connections of their own (a second replica). */
export class TestDatabase extends Context.Service<TestDatabase, { readonly name: string; readonly url: string }>()(
  "test/TestDatabase"
) {
  /** `TestDatabase`, and a migrated `PgClient`/`SqlClient` on it. The client closes before the database is dropped. */
  static readonly layerWith = (options: { readonly maxConnections?: number } = {}) => {
    const database = Layer.effect(TestDatabase, scratchDatabase)
    const client = Layer.unwrap(
      Effect.map(Effect.service(TestDatabase), ({ url }) =>
        PgClient.layer({
          url: Redacted.make(url),
          applicationName: "workstream-tasks-test",
          maxConnections: options.maxConnections ?? 5
        })
      )
    )
    // fresh: Layers are memoized by identity, and every test database needs its own migration run.
    return Layer.fresh(Migrations.layer).pipe(Layer.provideMerge(client), Layer.provideMerge(database))
  }

  static readonly layer = TestDatabase.layerWith()
}

/** Another client on the test database, as a second replica of the service would have. */
export const otherClient = (url: string) => PgClient.layer({ url: Redacted.make(url), maxConnections: 2 })

/** One create alone in its statement (`TaskChanges.createMany`), in the caller's transaction if any: whether it was written. */
export const createOne = (task: Task, events: ReadonlyArray<NewOutboxRow>, key?: KeyClaim) =>
  Effect.flatMap(Effect.service(TaskChanges), (changes) =>
    Effect.map(changes.createMany([{ task, events, key }]), ([written]) => written === true)
  )

/** Waits until the count of the test database's sessions blocked on a lock satisfies `enough`. */
const sessionsWaitingOnALock = (enough: (waiting: number) => boolean) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql<{ waiting: number }>`
      SELECT count(*)::int AS waiting FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`.pipe(
      Effect.filterOrFail((rows) => enough(rows[0]?.waiting ?? 0)),
      Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo({ duration: "10 seconds" })))
    )
  })

/** Waits until some session of the test database is blocked on a lock. */
export const someoneWaitsOnALock = sessionsWaitingOnALock((waiting) => waiting > 0)

/** Waits until `count` sessions of the test database (or more) are blocked on a lock. */
export const waitingOnALock = (count: number) => sessionsWaitingOnALock((waiting) => waiting >= count)

/** Waits until no session of the test database is blocked on a lock (a blocked statement was cancelled, say). */
export const nobodyWaitsOnALock = sessionsWaitingOnALock((waiting) => waiting === 0)

/** How many tasks with this title the service's database holds (what a cancelled create may have left). */
export const tasksTitled = (databaseUrl: string, title: string) =>
  Effect.flatMap(Effect.service(SqlClient.SqlClient), (sql) =>
    Effect.map(
      sql<{ n: number }>`SELECT count(*)::int AS n FROM tasks WHERE title = ${title}`,
      (rows) => rows[0]?.n ?? 0
    )
  ).pipe(Effect.provide(otherClient(databaseUrl)))

/** Another session holds the tasks table locked until `release`: every insert into it waits. */
export const lockTasks = (url: string) =>
  Effect.gen(function* () {
    const locked = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const holder = yield* Effect.forkChild(
      Effect.flatMap(Effect.service(SqlClient.SqlClient), (sql) =>
        sql.withTransaction(
          Effect.gen(function* () {
            yield* sql`LOCK TABLE tasks IN EXCLUSIVE MODE`
            yield* Deferred.succeed(locked, undefined)
            yield* Deferred.await(release)
          })
        )
      ).pipe(Effect.provide(otherClient(url)))
    )
    yield* Deferred.await(locked)
    return { release: Effect.andThen(Deferred.succeed(release, undefined), Fiber.join(holder)) }
  })
