/** Idempotency keys of CreateTask: which request a key was first used with, and its task (claimed by `TaskChanges.createMany`). */
import { TaskId } from "@workstream/domain"
import { Tracing } from "@workstream/platform"
import { Context, type DateTime, Effect, Layer, Option, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { toText } from "./Timestamptz.ts"

const Row = Schema.Struct({ request_hash: Schema.String, task_id: TaskId })
const decodeRows = Schema.decodeUnknownEffect(Schema.Array(Row))

export interface KeyRecord {
  readonly request_hash: string
  readonly task_id: TaskId
}

export class IdempotencyKeys extends Context.Service<
  IdempotencyKeys,
  {
    /** The live (unexpired) record of a key. */
    readonly find: (key: string, now: DateTime.Utc) => Effect.Effect<Option.Option<KeyRecord>, SqlError.SqlError>
    /** Deletes the records expired at `now`; returns how many. */
    readonly deleteExpired: (now: DateTime.Utc) => Effect.Effect<number, SqlError.SqlError>
  }
>()("@workstream/tasks/IdempotencyKeys") {
  static readonly layer = Layer.effect(
    IdempotencyKeys,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const traced = yield* Tracing.steps

      const find = Effect.fnUntraced(function* (key: string, now: DateTime.Utc) {
        const rows = yield* sql`
          SELECT request_hash, task_id::text AS task_id FROM idempotency_keys
          WHERE key = ${key} AND expires_at > ${toText(now)}`
        const [row] = yield* Effect.orDie(decodeRows(rows))
        return Option.fromNullishOr(row)
      }, traced("IdempotencyKeys.find"))

      const deleteExpired = Effect.fn("IdempotencyKeys.deleteExpired")(function* (now: DateTime.Utc) {
        // Locked in key order, as a create's claims are, so a create reclaiming expired keys meanwhile waits, never deadlocks.
        const rows = yield* sql`
          DELETE FROM idempotency_keys WHERE key IN (
            SELECT key FROM idempotency_keys WHERE expires_at <= ${toText(now)} ORDER BY key FOR UPDATE)
          RETURNING key`
        return rows.length
      })

      return IdempotencyKeys.of({ find, deleteExpired })
    })
  )
}
