/** Tasks read from Postgres, and the one Schema codec between a `tasks` row and the domain's Task (`TaskChanges` writes with it). */
import { Task, type TaskId, TaskPriority, TaskStatus } from "@workstream/domain"
import { Tracing } from "@workstream/platform"
import { Context, Effect, Layer, Option, Schema, SchemaTransformation } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { Timestamptz } from "./Timestamptz.ts"

/** A `tasks` row: NULL for an absent optional field, timestamps exact to the millisecond (Timestamptz). */
const Row = Schema.Struct({
  id: Schema.String,
  title: Schema.String,
  description: Schema.NullOr(Schema.String),
  status: TaskStatus,
  priority: TaskPriority,
  assignee: Schema.NullOr(Schema.String),
  due_at: Schema.NullOr(Timestamptz),
  created_at: Timestamptz,
  updated_at: Timestamptz,
  completed_at: Schema.NullOr(Timestamptz),
  version: Schema.Int
})

/**
 * Row <-> Task. Decoding runs every Task check (UUIDv7 id, title rules, completed_at exactly when
 * COMPLETED), so a row another writer corrupted is caught here, not deep in the service.
 */
export const TaskFromRow = Row.pipe(
  Schema.decodeTo(
    Task,
    SchemaTransformation.transform({
      decode: ({ description, assignee, due_at, completed_at, ...row }): typeof Task.Encoded => ({
        ...row,
        ...(description === null ? {} : { description }),
        ...(assignee === null ? {} : { assignee }),
        ...(due_at === null ? {} : { due_at }),
        ...(completed_at === null ? {} : { completed_at })
      }),
      encode: (task): typeof Row.Type => ({
        id: task.id,
        title: task.title,
        description: task.description ?? null,
        status: task.status,
        priority: task.priority,
        assignee: task.assignee ?? null,
        due_at: task.due_at ?? null,
        created_at: task.created_at,
        updated_at: task.updated_at,
        completed_at: task.completed_at ?? null,
        version: task.version
      })
    })
  )
)

// A row that does not decode is a bug or a corrupt database, not something a caller can handle:
// it dies, and the defect names the offending field.
const decodeRows = (rows: ReadonlyArray<unknown>) =>
  Effect.orDie(Schema.decodeUnknownEffect(Schema.Array(TaskFromRow))(rows, { errors: "all" }))

// Named columns, not `*`: a column added by a later migration must not change what this reads or writes.
export const COLUMNS = [
  "id",
  "title",
  "description",
  "status",
  "priority",
  "assignee",
  "due_at",
  "created_at",
  "updated_at",
  "completed_at",
  "version"
] as const

export interface ListOptions {
  readonly status?: TaskStatus
  readonly limit: number
  /** Keyset cursor: only tasks with a larger id (created later). */
  readonly after?: TaskId
}

export class TaskRepository extends Context.Service<
  TaskRepository,
  {
    readonly find: (id: TaskId) => Effect.Effect<Option.Option<Task>, SqlError.SqlError>
    /** Tasks in id (= creation) order after `after`, optionally of one status, at most `limit`. */
    readonly list: (options: ListOptions) => Effect.Effect<ReadonlyArray<Task>, SqlError.SqlError>
  }
>()("@workstream/tasks/TaskRepository") {
  static readonly layer = Layer.effect(
    TaskRepository,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const traced = yield* Tracing.steps
      const columns = sql.csv(COLUMNS)

      const find = Effect.fnUntraced(function* (id: TaskId) {
        yield* Effect.annotateCurrentSpan("workstream.task_id", id)
        const rows = yield* sql`SELECT ${columns} FROM tasks WHERE id = ${id}`
        const [task] = yield* decodeRows(rows)
        return Option.fromNullishOr(task)
      }, traced("TaskRepository.find"))

      const list = Effect.fnUntraced(function* (options: ListOptions) {
        const conditions = [
          ...(options.after === undefined ? [] : [sql`id > ${options.after}`]),
          ...(options.status === undefined ? [] : [sql`status = ${options.status}`])
        ]
        // With a status, the (status, id) index serves both the filter and the order.
        const rows = yield* sql`
          SELECT ${columns} FROM tasks ${conditions.length === 0 ? sql`` : sql`WHERE ${sql.and(conditions)}`}
          ORDER BY id LIMIT ${options.limit}`
        return yield* decodeRows(rows)
      }, traced("TaskRepository.list"))

      return TaskRepository.of({ find, list })
    })
  )
}
