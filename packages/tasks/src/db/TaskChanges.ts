/**
 * Writes task changes as single statements: the task rows, their outbox rows with the NOTIFY that
 * wakes the relays and, for a create with an idempotency key, the key's claim (DESIGN §5). A
 * statement is atomic by itself, so a change is one round trip instead of a transaction's BEGIN,
 * one statement per table and COMMIT: a round trip (a socket write at each end) was the largest
 * single cost of a create, 27 % of the tasks service's CPU. Creates go many to a statement
 * (`CreateBatcher` gathers them), their rows as JSON parameters: one statement text for any number.
 *
 * Each later step is gated on the one before it writing a row, so a refused claim or a stale
 * version writes nothing at all.
 */
import { encodeEvent, type Task, type TaskId } from "@workstream/domain"
import { Tracing } from "@workstream/platform"
import { type Array as Arr, Context, DateTime, Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError, type Statement } from "effect/sql"
import { CHANNEL, type NewOutboxRow } from "./OutboxStore.ts"
import { COLUMNS, TaskFromRow } from "./TaskRepository.ts"
import { toText } from "./Timestamptz.ts"

/** An idempotency key to claim for a create: which request it was used with, and until when. */
export interface KeyClaim {
  readonly key: string
  readonly request_hash: string
  readonly expires_at: DateTime.Utc
}

/** A task to insert with its outbox rows and, for a create with an idempotency key, the key to claim. */
export interface NewTask {
  readonly task: Task
  readonly events: ReadonlyArray<NewOutboxRow>
  readonly key?: KeyClaim | undefined
}

// A Task that does not encode is a bug, not something a caller can handle: it dies, naming the field.
const encodeTask = (task: Task) => Effect.orDie(Schema.encodeEffect(TaskFromRow)(task))

/** An outbox row as a JSON record, naming the task whose change it goes with (`change_of`). */
interface OutboxRecord {
  readonly event_id: string
  readonly event_type: string
  readonly task_id: string
  readonly body: string
  readonly traceparent: string | null
  readonly tracestate: string | null
  readonly change_of: TaskId
}

const outboxRecords = (change_of: TaskId, events: ReadonlyArray<NewOutboxRow>): Array<OutboxRecord> =>
  events.map(({ envelope, traceparent, tracestate }) => ({
    event_id: envelope.event_id,
    event_type: envelope.event_type,
    task_id: envelope.payload.id,
    body: encodeEvent(envelope),
    traceparent: traceparent ?? null,
    tracestate: tracestate ?? null,
    change_of
  }))

/**
 * Postgres refuses a statement that claims one key twice. A key's later uses among the creates are
 * left out of it and refused, as if its first use had committed just before them: the caller then
 * answers as that create did.
 */
const firstUseOfEachKey = (creates: ReadonlyArray<NewTask>): Array<NewTask> => {
  const keys = new Set<string>()
  const result: Array<NewTask> = []
  for (const create of creates) {
    const key = create.key?.key
    if (key !== undefined) {
      if (keys.has(key)) continue
      keys.add(key)
    }
    result.push(create)
  }
  return result
}

export class TaskChanges extends Context.Service<
  TaskChanges,
  {
    /**
     * Inserts the tasks and their outbox rows; tells, in order, which were written. A create with a key
     * is written only if the key is claimed: not when a live record of it exists (a replay, or a
     * concurrent create that committed first), and then nothing of it is written. A concurrent claim
     * of the same key waits for the other statement's transaction.
     */
    readonly createMany: (
      creates: Arr.NonEmptyReadonlyArray<NewTask>
    ) => Effect.Effect<Array<boolean>, SqlError.SqlError>
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
      const traced = yield* Tracing.steps

      /**
       * Runs `WITH <steps, the last one 'change' returning the ids of the tasks it wrote>, events AS
       * (<the outbox rows of those changes>) SELECT id FROM change`, and notifies the relays once if it
       * wrote an event. The NOTIFY is delivered when the statement's transaction commits. Outbox rows
       * keep the order they are given in (their seq).
       */
      const withEvents = (steps: Statement.Fragment, events: ReadonlyArray<OutboxRecord>) =>
        Effect.map(
          sql<{ readonly id: TaskId }>`WITH ${steps},
            events AS (INSERT INTO outbox (event_id, event_type, task_id, body, traceparent, tracestate)
              SELECT event_id, event_type, task_id, body, traceparent, tracestate
              FROM ROWS FROM (json_to_recordset(${JSON.stringify(events)}::json) AS (event_id uuid, event_type text,
                task_id uuid, body text, traceparent text, tracestate text, change_of uuid)) WITH ORDINALITY AS e
              WHERE e.change_of IN (SELECT id FROM change) ORDER BY e.ordinality RETURNING 1)
            SELECT id, (SELECT pg_notify(${CHANNEL}, '') FROM events LIMIT 1) FROM change`,
          (rows) => new Set(rows.map((row) => row.id))
        )

      const insert = (creates: ReadonlyArray<NewTask>) =>
        Effect.gen(function* () {
          const tasks = yield* Effect.forEach(creates, (create) => encodeTask(create.task))
          const claims = creates.flatMap(({ task, key }) =>
            key === undefined
              ? []
              : [{ key: key.key, request_hash: key.request_hash, task_id: task.id, expires_at: toText(key.expires_at) }]
          )
          const columns = sql.csv(COLUMNS)
          // Claims go in key order, so two statements claiming the same keys wait on each other, never
          // deadlock. An expired key not yet deleted may be reused: replace it rather than conflict
          // with it. Expiry is judged by the same clock as `IdempotencyKeys.find` (Effect's Clock), or
          // a key `find` calls expired could still refuse the claim when the database's clock lags.
          const now = yield* DateTime.now
          return yield* withEvents(
            sql`claims AS (SELECT * FROM json_populate_recordset(NULL::idempotency_keys, ${JSON.stringify(claims)}::json)),
              claim AS (
                INSERT INTO idempotency_keys (key, request_hash, task_id, expires_at)
                SELECT key, request_hash, task_id, expires_at FROM claims ORDER BY key
                ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, task_id = EXCLUDED.task_id,
                  created_at = now(), expires_at = EXCLUDED.expires_at
                WHERE idempotency_keys.expires_at <= ${toText(now)}
                RETURNING task_id),
              change AS (
                INSERT INTO tasks (${columns}) SELECT ${columns}
                FROM json_populate_recordset(NULL::tasks, ${JSON.stringify(tasks)}::json) AS t
                WHERE t.id IN (SELECT task_id FROM claim) OR t.id NOT IN (SELECT task_id FROM claims)
                RETURNING id)`,
            creates.flatMap((create) => outboxRecords(create.task.id, create.events))
          )
        })

      const createMany = Effect.fn("TaskChanges.createMany")(function* (creates: Arr.NonEmptyReadonlyArray<NewTask>) {
        yield* Effect.annotateCurrentSpan("workstream.creates", creates.length)
        const written = yield* insert(firstUseOfEachKey(creates))
        return creates.map((create) => written.has(create.task.id))
      })

      const update = Effect.fnUntraced(function* (
        task: Task,
        expectedVersion: number,
        events: ReadonlyArray<NewOutboxRow>
      ) {
        yield* Effect.annotateCurrentSpan("workstream.task_id", task.id)
        // Every column but the identity ones: a command may change any field, this stays correct when one does.
        const row = yield* encodeTask(task)
        const written = yield* withEvents(
          sql`change AS (UPDATE tasks SET ${sql.update(row, ["id", "created_at"])}
            WHERE id = ${task.id} AND version = ${expectedVersion} RETURNING id)`,
          outboxRecords(task.id, events)
        )
        return written.size === 1
      }, traced("TaskChanges.update"))

      return TaskChanges.of({ createMany, update })
    })
  )
}
