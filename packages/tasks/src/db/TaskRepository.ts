/** Tasks in Postgres: rows decoded into the domain's Task, changes guarded by `version`. */
import { Task, type TaskId, type TaskStatus } from "@workstream/domain"
import { Context, DateTime, Effect, Layer, Option, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

const Row = Schema.Struct({
  id: Schema.String,
  title: Schema.String,
  description: Schema.NullOr(Schema.String),
  status: Schema.String,
  priority: Schema.String,
  assignee: Schema.NullOr(Schema.String),
  due_at: Schema.NullOr(Schema.Date),
  created_at: Schema.Date,
  updated_at: Schema.Date,
  completed_at: Schema.NullOr(Schema.Date),
  version: Schema.Number
})

const decodeRow = Schema.decodeUnknownEffect(Row)
const decodeTask = Schema.decodeUnknownEffect(Task)
const utc = (date: Date) => DateTime.makeUnsafe(date)

/** A row that does not decode is a bug or a corrupt database, not a request error: it dies. */
const toTask = (raw: unknown): Effect.Effect<Task> =>
  Effect.flatMap(decodeRow(raw), (row) =>
    decodeTask({
      id: row.id,
      title: row.title,
      status: row.status,
      priority: row.priority,
      created_at: utc(row.created_at),
      updated_at: utc(row.updated_at),
      version: row.version,
      ...(row.description === null ? {} : { description: row.description }),
      ...(row.assignee === null ? {} : { assignee: row.assignee }),
      ...(row.due_at === null ? {} : { due_at: utc(row.due_at) }),
      ...(row.completed_at === null ? {} : { completed_at: utc(row.completed_at) })
    })
  ).pipe(Effect.orDie)

const date = (at: DateTime.Utc | undefined): Date | null => (at === undefined ? null : DateTime.toDateUtc(at))

export class TaskRepository extends Context.Service<
  TaskRepository,
  {
    readonly find: (id: TaskId) => Effect.Effect<Option.Option<Task>, SqlError.SqlError>
    readonly insert: (task: Task) => Effect.Effect<void, SqlError.SqlError>
    /** Writes `task` only if the stored version is still `expectedVersion`; tells whether it did. */
    readonly update: (task: Task, expectedVersion: number) => Effect.Effect<boolean, SqlError.SqlError>
    /** Tasks in id (= creation) order after `after`, optionally of one status. */
    readonly list: (options: {
      readonly status?: TaskStatus
      readonly limit: number
      readonly after?: TaskId
    }) => Effect.Effect<ReadonlyArray<Task>, SqlError.SqlError>
  }
>()("@workstream/tasks/TaskRepository") {
  static readonly layer = Layer.effect(
    TaskRepository,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const find = Effect.fn("TaskRepository.find")(function* (id: TaskId) {
        const rows = yield* sql`SELECT * FROM tasks WHERE id = ${id}`
        return rows.length === 0 ? Option.none() : Option.some(yield* toTask(rows[0]))
      })

      const insert = Effect.fn("TaskRepository.insert")(function* (task: Task) {
        yield* sql`
          INSERT INTO tasks (id, title, description, status, priority, assignee, due_at, created_at, updated_at,
                             completed_at, version)
          VALUES (${task.id}, ${task.title}, ${task.description ?? null}, ${task.status}, ${task.priority},
                  ${task.assignee ?? null}, ${date(task.due_at)}, ${date(task.created_at)}, ${date(task.updated_at)},
                  ${date(task.completed_at)}, ${task.version})`
      })

      // Transitions change only these columns; the rest is fixed at creation.
      const update = Effect.fn("TaskRepository.update")(function* (task: Task, expectedVersion: number) {
        const rows = yield* sql`
          UPDATE tasks
          SET status = ${task.status}, updated_at = ${date(task.updated_at)},
              completed_at = ${date(task.completed_at)}, version = ${task.version}
          WHERE id = ${task.id} AND version = ${expectedVersion}
          RETURNING id`
        return rows.length === 1
      })

      const list = Effect.fn("TaskRepository.list")(function* (options: {
        readonly status?: TaskStatus
        readonly limit: number
        readonly after?: TaskId
      }) {
        const conditions = [
          ...(options.after === undefined ? [] : [sql`id > ${options.after}`]),
          ...(options.status === undefined ? [] : [sql`status = ${options.status}`])
        ]
        const rows =
          yield* sql`SELECT * FROM tasks ${conditions.length === 0 ? sql`` : sql`WHERE ${sql.and(conditions)}`}
          ORDER BY id LIMIT ${options.limit}`
        return yield* Effect.forEach(rows, toTask)
      })

      return TaskRepository.of({ find, insert, update, list })
    })
  )
}
