/** The four things a caller can ask of a task. */
import { Data } from "effect"
import type { NewTaskFields, TaskId } from "./Task.ts"

export type TaskCommand = Data.TaggedEnum<{
  /** `fields` are unvalidated: the lifecycle validates them and reports every problem. */
  CreateTask: { readonly task_id: TaskId; readonly fields: NewTaskFields }
  StartTask: { readonly task_id: TaskId }
  CompleteTask: { readonly task_id: TaskId }
  CancelTask: { readonly task_id: TaskId }
}>

export const { CreateTask, StartTask, CompleteTask, CancelTask, $match: match } = Data.taggedEnum<TaskCommand>()
