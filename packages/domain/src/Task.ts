/**
 * The Task: the one aggregate of Workstream, as a Schema so that every boundary (REST, gRPC,
 * Postgres, events) decodes and validates it the same way.
 */
import { DateTime, Schema } from "effect"

/** Task ids are UUIDv7: time-ordered, so keyset pagination by id follows creation order. */
export const TaskId = Schema.String.check(
  Schema.isUUID(7, { message: "must be a UUIDv7 (e.g. 01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90)" })
).pipe(Schema.brand("TaskId"))
export type TaskId = typeof TaskId.Type

export const TaskStatus = Schema.Literals(["PENDING", "IN_PROGRESS", "COMPLETED", "CANCELLED"])
export type TaskStatus = typeof TaskStatus.Type

export const TaskPriority = Schema.Literals(["LOW", "MEDIUM", "HIGH", "URGENT"])
export type TaskPriority = typeof TaskPriority.Type

export const DEFAULT_PRIORITY: TaskPriority = "MEDIUM"

/** COMPLETED and CANCELLED are terminal: no transition leaves them. */
export const isTerminal = (status: TaskStatus): boolean => status === "COMPLETED" || status === "CANCELLED"

export const TITLE_MAX = 200
export const DESCRIPTION_MAX = 10_000
export const ASSIGNEE_MAX = 200
export const IDEMPOTENCY_KEY_MAX = 200

/**
 * Text a database can store as given: well-formed Unicode (no lone surrogates, which would be
 * silently replaced) and no NUL (Postgres text cannot hold it).
 */
const storableText = Schema.makeFilter<string>((s) =>
  s.isWellFormed() && !s.includes("\u0000") ? undefined : "must be valid Unicode text without NUL characters"
)

// Limits count code points (what a person and Postgres call characters), not UTF-16 units.

/**
 * A client's idempotency key for a create (the gateway's `Idempotency-Key`, `idempotency_key` in
 * gRPC): stored with the task it made, so storable text, and bounded.
 */
export const IdempotencyKey = Schema.String.check(
  storableText,
  Schema.isMinLength(1),
  Schema.isMaxCodePoints(IDEMPOTENCY_KEY_MAX, { message: `must be at most ${IDEMPOTENCY_KEY_MAX} characters` })
)

export const Title = Schema.Trim.check(
  storableText,
  Schema.isMinLength(1, { message: "must not be empty or only whitespace" }),
  Schema.isMaxCodePoints(TITLE_MAX, { message: `must be at most ${TITLE_MAX} characters` })
)
export const Description = Schema.String.check(
  storableText,
  Schema.isMaxCodePoints(DESCRIPTION_MAX, { message: `must be at most ${DESCRIPTION_MAX} characters` })
)
export const Assignee = Schema.Trim.check(
  storableText,
  Schema.isMinLength(1, { message: "must not be empty or only whitespace" }),
  Schema.isMaxCodePoints(ASSIGNEE_MAX, { message: `must be at most ${ASSIGNEE_MAX} characters` })
)
export const Version = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/** A due date in years 0001..9999: what a protobuf Timestamp and every store here can hold. */
export const DueAt = Schema.DateTimeUtc.check(
  Schema.makeFilter((at: DateTime.Utc) => {
    const year = DateTime.getPartUtc(at, "year")
    return year >= 1 && year <= 9999 ? undefined : "must be between years 0001 and 9999"
  })
)

const TaskFields = Schema.Struct({
  id: TaskId,
  title: Title,
  description: Schema.optionalKey(Description),
  status: TaskStatus,
  priority: TaskPriority,
  assignee: Schema.optionalKey(Assignee),
  due_at: Schema.optionalKey(DueAt),
  created_at: Schema.DateTimeUtc,
  updated_at: Schema.DateTimeUtc,
  completed_at: Schema.optionalKey(Schema.DateTimeUtc),
  version: Version
})

/** The invariants that tie fields together, checked wherever a Task is decoded. */
const consistent = Schema.makeFilter<typeof TaskFields.Type>((task) => {
  const issues: Array<Schema.FilterIssue> = []
  if ((task.status === "COMPLETED") !== (task.completed_at !== undefined)) {
    issues.push({ path: ["completed_at"], issue: "is set exactly when status is COMPLETED" })
  }
  if (DateTime.isLessThan(task.updated_at, task.created_at)) {
    issues.push({ path: ["updated_at"], issue: "must not be before created_at" })
  }
  return issues
})

export const Task = TaskFields.check(consistent).annotate({ identifier: "Task" })
export type Task = typeof Task.Type

/** The JSON wire shape: snake_case keys, ISO 8601 UTC timestamps, absent optional fields. */
export const TaskJson = Schema.toCodecJson(Task)
export type TaskJson = typeof TaskJson.Encoded

/** What a client may choose when creating a task; everything else is set by the lifecycle. */
export const NewTask = Schema.Struct({
  title: Title,
  description: Schema.optionalKey(Description),
  priority: Schema.optionalKey(TaskPriority),
  assignee: Schema.optionalKey(Assignee),
  due_at: Schema.optionalKey(DueAt)
}).annotate({ identifier: "NewTask" })
export type NewTask = typeof NewTask.Type
/** A create request before validation: what a caller sends. */
export type NewTaskFields = typeof NewTask.Encoded

export const NewTaskJson = Schema.toCodecJson(NewTask)
