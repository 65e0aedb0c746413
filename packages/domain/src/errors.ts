/** The typed failures of the domain. Each edge maps them to a status in one table. */
import { Schema, SchemaIssue } from "effect"
import { TaskId, TaskStatus } from "./Task.ts"

/** One problem with one field: `path` is dotted (`payload.title`), empty for the whole value. */
export const FieldProblem = Schema.Struct({ path: Schema.String, message: Schema.String })
export type FieldProblem = typeof FieldProblem.Type

/** Input that breaks the Task's rules, with every problem found, not just the first. */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  problems: Schema.Array(FieldProblem)
}) {
  override get message(): string {
    return this.problems.map((p) => (p.path === "" ? p.message : `${p.path}: ${p.message}`)).join("; ")
  }
}

export const CommandName = Schema.Literals(["create", "start", "complete", "cancel"])
export type CommandName = typeof CommandName.Type

/** A command the task's current status does not allow (for example starting a COMPLETED task). */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  task_id: TaskId,
  from: TaskStatus,
  command: CommandName
}) {
  override get message(): string {
    return `cannot ${this.command} task ${this.task_id}: it is ${this.from}`
  }
}

export class TaskNotFound extends Schema.TaggedError<TaskNotFound>()("TaskNotFound", {
  task_id: TaskId
}) {
  override get message(): string {
    return `task ${this.task_id} does not exist`
  }
}

export type DomainError = ValidationError | InvalidTransition | TaskNotFound

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

/** Flattens a Schema issue tree into one FieldProblem per failing field. */
export const fieldProblems = (issue: SchemaIssue.Issue): Array<FieldProblem> =>
  standard(issue).issues.map((problem) => ({
    path: (problem.path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment)).join("."),
    message: problem.message
  }))

export const validationErrorFrom = (error: Schema.SchemaError): ValidationError =>
  new ValidationError({ problems: fieldProblems(error.issue) })
