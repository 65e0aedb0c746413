import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as Migrations from "../../src/db/migrations.ts"
import { otherClient, scratchDatabase, TestDatabase } from "../support/database.ts"

/** Every migration, in order: what a fresh database ends with. */
const APPLIED = [
  { migration_id: 1, name: "initial" },
  { migration_id: 2, name: "parking" },
  { migration_id: 3, name: "parked_index" }
]

const applied = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<{ migration_id: number; name: string }>`
    SELECT migration_id, name FROM workstream_migrations ORDER BY migration_id`
})

layer(TestDatabase.layer, { excludeTestServices: true, timeout: "60 seconds" })("migrations", (it) => {
  it.effect("apply once: starting again changes nothing", () =>
    Effect.gen(function* () {
      const before = yield* applied
      assert.deepStrictEqual(before, APPLIED)
      // fresh: a Layer is memoized by identity, and this one was already built for the test database.
      yield* Layer.build(Layer.fresh(Migrations.layer))
      assert.deepStrictEqual(yield* applied, before)
    })
  )

  it.effect("create the indexes the queries rely on", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ indexname: string; indexdef: string }>`
        SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`
      const definition = new Map(rows.map((row) => [row.indexname, row.indexdef]))
      assert.include(definition.get("tasks_status_id"), "(status, id)")
      assert.include(definition.get("outbox_unpublished"), "WHERE ((published_at IS NULL) AND (parked_at IS NULL))")
      assert.include(definition.get("outbox_published_at"), "(published_at)")
      assert.include(definition.get("outbox_parked"), "WHERE ((parked_at IS NOT NULL) AND (published_at IS NULL))")
      assert.include(definition.get("idempotency_keys_expires_at"), "(expires_at)")
      assert.isTrue(
        rows.some((row) => row.indexdef.includes("UNIQUE") && row.indexdef.includes("(event_id)")),
        "outbox.event_id is unique"
      )
    })
  )

  it.effect("the tasks table refuses rows that break the Task's invariants", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const insert = (status: string, priority: string, completed: boolean, version: number) =>
        Effect.flip(sql`
          INSERT INTO tasks (id, title, status, priority, created_at, updated_at, completed_at, version)
          VALUES (gen_random_uuid(), 't', ${status}, ${priority}, now(), now(),
                  ${completed ? sql`now()` : sql`NULL`}, ${version})`)
      for (const [status, priority, completed, version] of [
        ["DONE", "LOW", false, 1],
        ["PENDING", "CRITICAL", false, 1],
        ["COMPLETED", "LOW", false, 2],
        ["PENDING", "LOW", true, 1],
        ["PENDING", "LOW", false, 0]
      ] as const) {
        const error = yield* insert(status, priority, completed, version)
        assert.strictEqual(error._tag, "SqlError", `${status} ${priority} completed=${completed} v${version}`)
      }
    })
  )

  it.effect("two replicas starting at once on an empty database: both come up, the schema is made once", () =>
    Effect.gen(function* () {
      const { url } = yield* scratchDatabase
      const replica = () => Layer.build(Layer.fresh(Migrations.layer).pipe(Layer.provide(otherClient(url))))
      yield* Effect.forEach([1, 2], replica, { concurrency: "unbounded" })
      const rows = yield* applied.pipe(Effect.provide(otherClient(url)))
      assert.deepStrictEqual(rows, APPLIED)
    })
  )
})
