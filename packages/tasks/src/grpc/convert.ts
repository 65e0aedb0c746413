/**
 * Translation between the generated gRPC messages and the domain. Requests are decoded with
 * the domain's Schemas; every problem becomes one ValidationError (INVALID_ARGUMENT).
 */
import {
  IdempotencyKey,
  type NewTaskFields,
  TaskId,
  type TaskPriority,
  type TaskStatus,
  ValidationError,
  validationErrorFrom
} from "@workstream/domain"
import * as Proto from "@workstream/proto"
import { DomainMapping } from "@workstream/proto"
import { DateTime, Result, Schema } from "effect"

const { PRIORITY_FROM_PROTO, STATUS_FROM_PROTO } = DomainMapping
export const { toProtoTask } = DomainMapping

const problem = (path: string, message: string) => new ValidationError({ problems: [{ path, message }] })

const decodeTaskId = Schema.decodeUnknownResult(TaskId)

export const taskIdFrom = (id: string): Result.Result<TaskId, ValidationError> =>
  Result.mapError(decodeTaskId(id), validationErrorFrom)

const decodeIdempotencyKey = Schema.decodeUnknownResult(Schema.Struct({ idempotency_key: IdempotencyKey }))

export interface CreateRequest {
  readonly fields: NewTaskFields
  /** Absent when the request has none (proto3's empty string). */
  readonly idempotencyKey: string | undefined
}

/**
 * The create request: its idempotency key checked, its fields unvalidated beyond their wire types
 * (the lifecycle validates them).
 */
export const createRequestFrom = (request: Proto.CreateTaskRequest): Result.Result<CreateRequest, ValidationError> => {
  const problems: Array<{ path: string; message: string }> = []
  let priority: TaskPriority | undefined
  if (request.priority !== Proto.TaskPriority.TASK_PRIORITY_UNSPECIFIED) {
    priority = PRIORITY_FROM_PROTO.get(request.priority)
    if (priority === undefined) problems.push({ path: "priority", message: "is not a known priority" })
  }
  let due_at: DateTime.Utc | undefined
  if (request.due_at !== undefined) {
    due_at = DateTime.make(request.due_at).pipe((o) => (o._tag === "Some" ? DateTime.toUtc(o.value) : undefined))
    if (due_at === undefined) problems.push({ path: "due_at", message: "is not a valid timestamp" })
  }
  const key = request.idempotency_key
  if (key !== "") {
    const decoded = decodeIdempotencyKey({ idempotency_key: key })
    if (Result.isFailure(decoded)) problems.push(...validationErrorFrom(decoded.failure).problems)
  }
  if (problems.length > 0) return Result.fail(new ValidationError({ problems }))
  return Result.succeed({
    fields: {
      title: request.title,
      ...(request.description === undefined ? {} : { description: request.description }),
      ...(priority === undefined ? {} : { priority }),
      ...(request.assignee === undefined ? {} : { assignee: request.assignee }),
      ...(due_at === undefined ? {} : { due_at })
    },
    idempotencyKey: key === "" ? undefined : key
  })
}

export const DEFAULT_PAGE_SIZE = 20
export const MAX_PAGE_SIZE = 100

export interface ListQuery {
  readonly status?: TaskStatus | undefined
  readonly pageSize: number
  readonly pageToken?: string | undefined
}

export const listQueryFrom = (request: Proto.ListTasksRequest): Result.Result<ListQuery, ValidationError> => {
  const pageSize = request.page_size === 0 ? DEFAULT_PAGE_SIZE : request.page_size
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    return Result.fail(problem("page_size", `must be between 1 and ${MAX_PAGE_SIZE}`))
  }
  let status: TaskStatus | undefined
  if (request.status !== undefined && request.status !== Proto.TaskStatus.TASK_STATUS_UNSPECIFIED) {
    status = STATUS_FROM_PROTO.get(request.status)
    if (status === undefined) return Result.fail(problem("status", "is not a known status"))
  }
  return Result.succeed({ status, pageSize, pageToken: request.page_token })
}
