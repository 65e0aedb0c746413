/** Idempotency keys of CreateTask: which request a key was first used with, and its task. */
import { TaskId } from "@workstream/domain"
import { Context, DateTime, Effect, Layer, Option, Schema } from "effect"
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
    /**
     * Records a key; false when a live record of it exists (a concurrent create won). A concurrent insert of
     * the same key waits for the other transaction: false if it commits, true if it rolls back.
     */
    readonly insert: (
      record: KeyRecord & { readonly key: string; readonly expires_at: DateTime.Utc }
    ) => Effect.Effect<boolean, SqlError.SqlError>
    /** Deletes the records expired at `now`; returns how many. */
    readonly deleteExpired: (now: DateTime.Utc) => Effect.Effect<number, SqlError.SqlError>
  }
>()("@workstream/tasks/IdempotencyKeys") {
  static readonly layer = Layer.effect(
    IdempotencyKeys,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const find = Effect.fn("IdempotencyKeys.find")(function* (key: string, now: DateTime.Utc) {
        const rows = yield* sql`
          SELECT request_hash, task_id::text AS task_id FROM idempotency_keys
          WHERE key = ${key} AND expires_at > ${toText(now)}`
        const [row] = yield* Effect.orDie(decodeRows(rows))
        return Option.fromNullishOr(row)
      })

      const insert = Effect.fn("IdempotencyKeys.insert")(function* (
        record: KeyRecord & { readonly key: string; readonly expires_at: DateTime.Utc }
      ) {
        // An expired key not yet deleted may be reused: replace it rather than conflict with it. Expiry is
        // judged by the same clock as `find` (Effect's Clock), or a key `find` calls expired could still
        // refuse the insert when the database's clock lags this process's.
        const now = toText(yield* DateTime.now)
        const rows = yield* sql`
          INSERT INTO idempotency_keys (key, request_hash, task_id, expires_at)
          VALUES (${record.key}, ${record.request_hash}, ${record.task_id}, ${toText(record.expires_at)})
          ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, task_id = EXCLUDED.task_id,
            created_at = now(), expires_at = EXCLUDED.expires_at
          WHERE idempotency_keys.expires_at <= ${now}
          RETURNING key`
        return rows.length === 1
      })

      const deleteExpired = Effect.fn("IdempotencyKeys.deleteExpired")(function* (now: DateTime.Utc) {
        const rows = yield* sql`DELETE FROM idempotency_keys WHERE expires_at <= ${toText(now)} RETURNING key`
        return rows.length
      })

      return IdempotencyKeys.of({ find, insert, deleteExpired })
    })
  )
}
