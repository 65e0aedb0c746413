/** The REST handlers: each request becomes one gRPC call with the request's correlation ids. */
import { randomUUID } from "node:crypto"
import { status } from "@grpc/grpc-js"
import type { NewTask, Task } from "@workstream/domain"
import { TraceContext } from "@workstream/platform"
import { DomainMapping, TaskPriority, TaskStatus } from "@workstream/proto"
import { DateTime, Effect } from "effect"
import { HttpEffect, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Api, UnavailableProblem, ValidationProblem } from "../Api.ts"
import { type CallContext, TasksClient } from "../grpc/TasksClient.ts"
import { toProblem } from "./upstreamProblem.ts"

const DEFAULT_LIMIT = 20

/** The request's correlation ids; the correlation middleware has set the request's id already. */
const callContext = Effect.map(
  HttpServerRequest.HttpServerRequest,
  ({ headers }): CallContext => ({
    requestId: headers["x-request-id"] ?? randomUUID(),
    // An untrusted header: forward it only when well-formed, so gRPC metadata never refuses it.
    tracestate: TraceContext.validTracestate(headers.tracestate)
  })
)

/** A task the tasks service sent that does not decode is its bug, not the caller's: 503, logged. */
const task = (proto: Parameters<typeof DomainMapping.fromProtoTask>[0] | undefined) =>
  proto === undefined
    ? Effect.fail(new UnavailableProblem({}))
    : Effect.fromResult(DomainMapping.fromProtoTask(proto)).pipe(
        Effect.tapError((error) => Effect.logError("tasks service sent an invalid task", error)),
        Effect.mapError(() => new UnavailableProblem({}))
      )

const createRequest = (payload: NewTask, idempotencyKey: string) => ({
  title: payload.title,
  description: payload.description,
  priority:
    payload.priority === undefined
      ? TaskPriority.TASK_PRIORITY_UNSPECIFIED
      : DomainMapping.PRIORITY_TO_PROTO[payload.priority],
  assignee: payload.assignee,
  due_at: payload.due_at === undefined ? undefined : DateTime.toDateUtc(payload.due_at),
  idempotency_key: idempotencyKey
})

export const TasksHandlers = HttpApiBuilder.group(
  Api,
  "tasks",
  Effect.fn(function* (handlers) {
    const tasks = yield* TasksClient

    const transition = (call: typeof tasks.completeTask) => (args: { readonly params: { readonly id: string } }) =>
      Effect.gen(function* () {
        const response = yield* call({ id: args.params.id }, yield* callContext).pipe(Effect.mapError(toProblem))
        return yield* task(response.task)
      })

    return handlers
      .handle("create", ({ payload, headers }) =>
        Effect.gen(function* () {
          // Without the client's key the gateway mints one, so its own retries never create twice.
          const key = headers["idempotency-key"] ?? `gateway:${randomUUID()}`
          const response = yield* tasks
            .createTask(createRequest(payload, key), yield* callContext)
            .pipe(Effect.mapError(toProblem))
          const created: Task = yield* task(response.task)
          yield* HttpEffect.appendPreResponseHandler((_request, response) =>
            Effect.succeed(HttpServerResponse.setHeader(response, "location", `/api/v1/tasks/${created.id}`))
          )
          return created
        })
      )
      .handle("list", ({ query }) =>
        Effect.gen(function* () {
          const response = yield* tasks
            .listTasks(
              {
                status:
                  query.status === undefined
                    ? TaskStatus.TASK_STATUS_UNSPECIFIED
                    : DomainMapping.STATUS_TO_PROTO[query.status],
                page_size: query.limit ?? DEFAULT_LIMIT,
                page_token: query.cursor ?? ""
              },
              yield* callContext
            )
            .pipe(
              // The only argument tasks can refuse here is the cursor: say so in the REST API's words.
              Effect.mapError((error) =>
                error._tag === "UpstreamFailure" && error.code === status.INVALID_ARGUMENT
                  ? new ValidationProblem({
                      errors: [
                        { path: "query.cursor", message: "is not a cursor this API issued; list again without it" }
                      ]
                    })
                  : toProblem(error)
              )
            )
          const items = yield* Effect.forEach(response.tasks, task)
          return { items, next_cursor: response.next_page_token === "" ? null : response.next_page_token }
        })
      )
      .handle("get", ({ params }) =>
        Effect.gen(function* () {
          const response = yield* tasks.getTask({ id: params.id }, yield* callContext).pipe(Effect.mapError(toProblem))
          return yield* task(response.task)
        })
      )
      .handle("complete", transition(tasks.completeTask))
      .handle("start", transition(tasks.startTask))
      .handle("cancel", transition(tasks.cancelTask))
  })
)
