/**
 * The task lifecycle as one pure function: given the task as it is (or none), a command and
 * the time, decide the task as it becomes and the events that say so. No I/O, no clock:
 * persistence and publishing happen around it.
 */
import { DateTime, Option, Result, Schema } from "effect"
import { type DomainError, InvalidTransition, TaskNotFound, validationErrorFrom } from "./errors.ts"
import { DEFAULT_PRIORITY, NewTask, type Task, type TaskStatus } from "./Task.ts"
import type { TaskCommand } from "./TaskCommand.ts"
import type { EventType, TaskChanged } from "./TaskEvent.ts"

export interface Decision {
  readonly task: Task
  /** Empty when the command changed nothing (completing a COMPLETED task). */
  readonly events: ReadonlyArray<TaskChanged>
}

const validateNewTask = Schema.decodeUnknownResult(NewTask)

export const decide = (
  current: Option.Option<Task>,
  command: TaskCommand,
  now: DateTime.Utc
): Result.Result<Decision, DomainError> => {
  if (command._tag === "CreateTask") {
    if (Option.isSome(current)) {
      return Result.fail(
        new InvalidTransition({ task_id: command.task_id, from: current.value.status, command: "create" })
      )
    }
    return Result.mapBoth(validateNewTask(command.fields, { errors: "all" }), {
      onFailure: validationErrorFrom,
      onSuccess: (fields) => {
        const task: Task = {
          ...fields,
          id: command.task_id,
          priority: fields.priority ?? DEFAULT_PRIORITY,
          status: "PENDING",
          created_at: now,
          updated_at: now,
          version: 1
        }
        return changed(task, "workstream.task.created.v1")
      }
    })
  }
  if (Option.isNone(current) || current.value.id !== command.task_id) {
    return Result.fail(new TaskNotFound({ task_id: command.task_id }))
  }
  const task = current.value
  // Replicas' clocks can disagree: time never runs backwards within one task.
  const at = DateTime.max(now, task.updated_at)
  const refuse = (name: "start" | "complete" | "cancel") =>
    Result.fail(new InvalidTransition({ task_id: task.id, from: task.status, command: name }))

  switch (command._tag) {
    case "StartTask":
      return task.status === "PENDING"
        ? Result.succeed(changed(moveTo(task, "IN_PROGRESS", at), "workstream.task.started.v1"))
        : refuse("start")
    case "CompleteTask":
      if (task.status === "COMPLETED") return Result.succeed({ task, events: [] })
      return isOpen(task.status)
        ? Result.succeed(
            changed({ ...moveTo(task, "COMPLETED", at), completed_at: at }, "workstream.task.completed.v1")
          )
        : refuse("complete")
    case "CancelTask":
      return isOpen(task.status)
        ? Result.succeed(changed(moveTo(task, "CANCELLED", at), "workstream.task.cancelled.v1"))
        : refuse("cancel")
  }
}

const isOpen = (status: TaskStatus): boolean => status === "PENDING" || status === "IN_PROGRESS"

const moveTo = (task: Task, status: TaskStatus, at: DateTime.Utc): Task => ({
  ...task,
  status,
  updated_at: at,
  version: task.version + 1
})

const changed = (task: Task, event_type: EventType): Decision => ({
  task,
  events: [{ event_type, occurred_at: task.updated_at, task }]
})
