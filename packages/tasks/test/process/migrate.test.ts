import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { databaseOf, freshDatabase, spawnService } from "../support/harness.ts"

const MIGRATE = fileURLToPath(new URL("../../src/migrate.ts", import.meta.url))

describe("the migrate command", () => {
  it.live("brings an empty database to the service's schema and exits 0; run again, it changes nothing", () =>
    Effect.gen(function* () {
      const url = yield* freshDatabase
      for (const run of [1, 2]) {
        const { code, output } = yield* Effect.scoped(
          Effect.flatMap(spawnService(MIGRATE, { DATABASE_URL: url }), (migrate) =>
            Effect.promise(() => migrate.exited)
          )
        )
        assert.strictEqual(code, 0, `run ${run}: ${output}`)
      }
      const tables = yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{
          name: string
        }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`
      }).pipe(Effect.provide(databaseOf(url)))
      assert.deepStrictEqual(
        tables.map((t) => t.name),
        ["idempotency_keys", "outbox", "tasks", "workstream_migrations"]
      )
    })
  )

  it.live("exits 1 naming DATABASE_URL when it is missing", () =>
    Effect.gen(function* () {
      const migrate = yield* spawnService(MIGRATE, {})
      const { code, output } = yield* Effect.promise(() => migrate.exited)
      assert.strictEqual(code, 1)
      assert.include(output, "DATABASE_URL")
    })
  )
})
