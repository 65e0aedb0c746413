/**
 * The gRPC binding of the domain: the one translation between domain values and generated
 * messages, used by the tasks server and the gateway's client alike.
 */
import { type Task, TaskJson, type TaskPriority, type TaskStatus } from "@workstream/domain"
import { DateTime, type Result, Schema } from "effect"
import * as Proto from "./gen/workstream/tasks/v1/tasks.ts"

export const STATUS_TO_PROTO: Record<TaskStatus, Proto.TaskStatus> = {
  PENDING: Proto.TaskStatus.TASK_STATUS_PENDING,
  IN_PROGRESS: Proto.TaskStatus.TASK_STATUS_IN_PROGRESS,
  COMPLETED: Proto.TaskStatus.TASK_STATUS_COMPLETED,
  CANCELLED: Proto.TaskStatus.TASK_STATUS_CANCELLED
}
export const PRIORITY_TO_PROTO: Record<TaskPriority, Proto.TaskPriority> = {
  LOW: Proto.TaskPriority.TASK_PRIORITY_LOW,
  MEDIUM: Proto.TaskPriority.TASK_PRIORITY_MEDIUM,
  HIGH: Proto.TaskPriority.TASK_PRIORITY_HIGH,
  URGENT: Proto.TaskPriority.TASK_PRIORITY_URGENT
}

const invert = <K extends string, V extends number>(table: Record<K, V>): ReadonlyMap<number, K> =>
  new Map((Object.keys(table) as Array<K>).map((key) => [table[key], key]))
export const STATUS_FROM_PROTO = invert(STATUS_TO_PROTO)
export const PRIORITY_FROM_PROTO = invert(PRIORITY_TO_PROTO)

const toDate = (at: DateTime.Utc): Date => DateTime.toDateUtc(at)
const iso = (at: Date | undefined): string | undefined => at?.toISOString()

export const toProtoTask = (task: Task): Proto.Task => ({
  id: task.id,
  title: task.title,
  description: task.description,
  status: STATUS_TO_PROTO[task.status],
  priority: PRIORITY_TO_PROTO[task.priority],
  assignee: task.assignee,
  due_at: task.due_at === undefined ? undefined : toDate(task.due_at),
  created_at: toDate(task.created_at),
  updated_at: toDate(task.updated_at),
  completed_at: task.completed_at === undefined ? undefined : toDate(task.completed_at),
  version: task.version
})

const decodeTask = Schema.decodeUnknownResult(TaskJson)

/** A task as the server sent it, validated like any input from the network. */
export const fromProtoTask = (task: Proto.Task): Result.Result<Task, Schema.SchemaError> =>
  decodeTask({
    id: task.id,
    title: task.title,
    status: STATUS_FROM_PROTO.get(task.status),
    priority: PRIORITY_FROM_PROTO.get(task.priority),
    created_at: iso(task.created_at),
    updated_at: iso(task.updated_at),
    version: task.version,
    ...(task.description === undefined ? {} : { description: task.description }),
    ...(task.assignee === undefined ? {} : { assignee: task.assignee }),
    ...(task.due_at === undefined ? {} : { due_at: iso(task.due_at) }),
    ...(task.completed_at === undefined ? {} : { completed_at: iso(task.completed_at) })
  })
