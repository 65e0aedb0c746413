/**
 * The public REST API, declared once: routes, bodies and errors. The OpenAPI document at
 * `/openapi.json` is generated from this declaration; the handlers live in `http/`.
 * Bodies are the domain's own Schemas, so the JSON is the event payload's snake_case shape.
 */
import { FieldProblem, IdempotencyKey, NewTask, Task, TaskId, TaskStatus } from "@workstream/domain"
import { Schema } from "effect"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiError,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  OpenApi
} from "effect/http-api"

const problem = (name: string) => `urn:workstream:problem:${name}` as const

export class ValidationProblem extends HttpApiError.Problem<ValidationProblem>()(
  "ValidationProblem",
  { type: problem("validation"), status: 400, title: "The request is not valid" },
  { errors: Schema.Array(FieldProblem) }
) {}

export class TaskNotFoundProblem extends HttpApiError.Problem<TaskNotFoundProblem>()("TaskNotFoundProblem", {
  type: problem("task-not-found"),
  status: 404,
  title: "No task has this id"
}) {}

export class InvalidTransitionProblem extends HttpApiError.Problem<InvalidTransitionProblem>()(
  "InvalidTransitionProblem",
  { type: problem("invalid-transition"), status: 409, title: "The task's status does not allow this" }
) {}

export class IdempotencyKeyReusedProblem extends HttpApiError.Problem<IdempotencyKeyReusedProblem>()(
  "IdempotencyKeyReusedProblem",
  { type: problem("idempotency-key-reused"), status: 409, title: "The Idempotency-Key was used with another body" }
) {}

export class UnavailableProblem extends HttpApiError.Problem<UnavailableProblem>()("UnavailableProblem", {
  type: problem("unavailable"),
  status: 503,
  title: "The tasks service is unavailable, try again later"
}) {}

export class TimeoutProblem extends HttpApiError.Problem<TimeoutProblem>()("TimeoutProblem", {
  type: problem("timeout"),
  status: 504,
  title: "The tasks service did not answer in time"
}) {}

/**
 * Every problem a call to the tasks service can end in. Declared on every route: the gateway
 * holds no business rules, so it does not guess which codes a route can see.
 */
const upstream = [
  ValidationProblem,
  TaskNotFoundProblem,
  InvalidTransitionProblem,
  IdempotencyKeyReusedProblem,
  UnavailableProblem,
  TimeoutProblem
] as const

export const TaskPage = Schema.Struct({
  items: Schema.Array(Task),
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: Schema.NullOr(Schema.String)
}).annotate({ identifier: "TaskPage" })

const Limit = Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 100 }))
const byId = { id: TaskId }
const transition = (name: "complete" | "start" | "cancel") =>
  HttpApiEndpoint.post(name, `/:id/${name}`, {
    params: byId,
    success: Task,
    error: upstream
  })

export class TasksGroup extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.post("create", "/", {
      payload: NewTask,
      headers: { "idempotency-key": Schema.optional(IdempotencyKey) },
      success: Task.pipe(HttpApiSchema.status(201)),
      error: upstream
    }),
    HttpApiEndpoint.get("list", "/", {
      query: {
        status: Schema.optional(TaskStatus),
        limit: Schema.optional(Limit),
        cursor: Schema.optional(Schema.String)
      },
      success: TaskPage,
      error: upstream
    }),
    HttpApiEndpoint.get("get", "/:id", { params: byId, success: Task, error: upstream }),
    transition("complete"),
    transition("start"),
    transition("cancel")
  )
  .prefix("/api/v1/tasks")
  .annotateMerge(
    OpenApi.annotations({ title: "Tasks", description: "Create tasks and move them through their lifecycle" })
  ) {}

export class Api extends HttpApi.make("workstream")
  .add(TasksGroup)
  .middleware(HttpApiMiddleware.ProblemDetails)
  // Report every bad field of a request, not just the first; unknown body fields are ignored.
  .annotate(HttpApi.ParseOptions, { errors: "all" })
  .annotateMerge(OpenApi.annotations({ title: "Workstream API", version: "1.0.0" })) {}
