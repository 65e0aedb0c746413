/**
 * Writes a task change as one statement: the task row, its outbox rows with the NOTIFY that wakes
 * the relays and, for a create with an idempotency key, the key's claim (DESIGN §5). A statement is
 * atomic by itself, so a change is one round trip instead of a transaction's BEGIN, one statement
 * per table and COMMIT: a round trip (a socket write at each end) was the largest single cost of a
 * create, 27 % of the tasks service's CPU.
 *
 * Each later step is gated on the one before it writing a row (`WHERE EXISTS`), so a refused claim
 * or a stale version writes nothing at all.
 */
import { encodeEvent, type Task, type TaskId } from "@workstream/domain"
import { Array as Arr, Context, DateTime, Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError, type Statement } from "effect/sql"
import { CHANNEL, type NewOutboxRow } from "./OutboxStore.ts"
import { TaskFromRow } from "./TaskRepository.ts"
import { toText } from "./Timestamptz.ts"

/** An idempotency key to claim for a create: which request it was used with, and until when. */
export interface KeyClaim {
  readonly key: string
  readonly request_hash: string
  readonly expires_at: DateTime.Utc
}

// A Task that does not encode is a bug, not something a caller can handle: it dies, naming the field.
const encodeTask = (task: Task) => Effect.orDie(Schema.encodeEffect(TaskFromRow)(task))

export class TaskChanges extends Context.Service<
  TaskChanges,
  {
    /**
     * Inserts the task and its outbox rows. With a key, only if the key is claimed: false when a live
     * record of it exists (a replay, or a concurrent create that committed first), and then nothing is
     * written. A concurrent claim of the same key waits for the other statement's transaction.
     */
    readonly create: (
      task: Task,
      events: ReadonlyArray<NewOutboxRow>,
      key?: KeyClaim
    ) => Effect.Effect<boolean, SqlError.SqlError>
    /** Writes the task and its outbox rows only if the stored version is still `expectedVersion`; tells whether it did. */
    readonly update: (
      task: Task,
      expectedVersion: number,
      events: ReadonlyArray<NewOutboxRow>
    ) => Effect.Effect<boolean, SqlError.SqlError>
  }
>()("@workstream/tasks/TaskChanges") {
  static readonly layer = Layer.effect(
    TaskChanges,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const values = sql.join(", ", false)
      const ifWrote = (step: string) => sql`WHERE EXISTS (SELECT 1 FROM ${sql(step)})`

      // `INSERT ... SELECT` rather than `VALUES`, so the rows can be gated; Postgres types each
      // parameter from its target column. Across `UNION ALL` it would not, hence the uuid casts.
      const outboxInsert = (events: Arr.NonEmptyReadonlyArray<NewOutboxRow>, gate: Statement.Fragment) =>
        sql`INSERT INTO outbox (event_id, event_type, task_id, body, traceparent, tracestate) ${sql.join(
          " UNION ALL ",
          false
        )(
          events.map(
            ({ envelope, traceparent, tracestate }) =>
              sql`SELECT ${envelope.event_id}::uuid, ${envelope.event_type}, ${envelope.payload.id}::uuid, ${encodeEvent(
                envelope
              )}, ${traceparent ?? null}, ${tracestate ?? null} ${gate}`
          )
        )}`

      /**
       * Runs `WITH <steps>, events AS (<outbox rows, gated on the change>) SELECT ... FROM change`: one
       * row exactly when the change, and so every step before it and its events, was written. The
       * NOTIFY is delivered when the statement's transaction commits.
       */
      const withEvents = (steps: Statement.Fragment, events: ReadonlyArray<NewOutboxRow>) =>
        Effect.map(
          Arr.isReadonlyArrayNonEmpty(events)
            ? sql`WITH ${steps}, events AS (${outboxInsert(events, ifWrote("change"))} RETURNING 1)
                SELECT pg_notify(${CHANNEL}, '') FROM change`
            : sql`WITH ${steps} SELECT 1 FROM change`,
          (rows) => rows.length === 1
        )

      const claim = (key: KeyClaim, task_id: TaskId) =>
        Effect.map(
          DateTime.now,
          (now) =>
            // An expired key not yet deleted may be reused: replace it rather than conflict with it. Expiry is
            // judged by the same clock as `IdempotencyKeys.find` (Effect's Clock), or a key `find` calls expired
            // could still refuse the claim when the database's clock lags this process's.
            sql`claim AS (
            INSERT INTO idempotency_keys (key, request_hash, task_id, expires_at)
            VALUES (${key.key}, ${key.request_hash}, ${task_id}, ${toText(key.expires_at)})
            ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, task_id = EXCLUDED.task_id,
              created_at = now(), expires_at = EXCLUDED.expires_at
            WHERE idempotency_keys.expires_at <= ${toText(now)}
            RETURNING 1)`
        )

      const create = Effect.fn("TaskChanges.create")(function* (
        task: Task,
        events: ReadonlyArray<NewOutboxRow>,
        key?: KeyClaim
      ) {
        yield* Effect.annotateCurrentSpan("workstream.task_id", task.id)
        const row = yield* encodeTask(task)
        const insert = (gate: Statement.Fragment) =>
          sql`change AS (INSERT INTO tasks (${sql.csv(Object.keys(row))})
            SELECT ${values(Object.values(row).map((value) => sql`${value}`))} ${gate} RETURNING 1)`
        if (key === undefined) return yield* withEvents(insert(sql``), events)
        return yield* withEvents(sql`${yield* claim(key, task.id)}, ${insert(ifWrote("claim"))}`, events)
      })

      const update = Effect.fn("TaskChanges.update")(function* (
        task: Task,
        expectedVersion: number,
        events: ReadonlyArray<NewOutboxRow>
      ) {
        yield* Effect.annotateCurrentSpan("workstream.task_id", task.id)
        // Every column but the identity ones: a command may change any field, this stays correct when one does.
        const row = yield* encodeTask(task)
        return yield* withEvents(
          sql`change AS (UPDATE tasks SET ${sql.update(row, ["id", "created_at"])}
            WHERE id = ${task.id} AND version = ${expectedVersion} RETURNING 1)`,
          events
        )
      })

      return TaskChanges.of({ create, update })
    })
  )
}
