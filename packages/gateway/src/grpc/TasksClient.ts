/**
 * The gateway's client of the tasks service: one gRPC channel for the process, a deadline on
 * every call, retries of UNAVAILABLE only (jittered, bounded in count and time; CreateTask only
 * with an idempotency key), and a circuit breaker so an outage fails fast with 503.
 */
import * as grpc from "@grpc/grpc-js"
import { LazyRetry, TraceContext } from "@workstream/platform"
import type { UnaryMethod } from "@workstream/proto"
import * as Proto from "@workstream/proto"
import { Context, Duration, Effect, Layer, Schedule, Schema } from "effect"
import * as CircuitBreaker from "./CircuitBreaker.ts"

/** A call that ended with a gRPC status other than OK. */
export class UpstreamFailure extends Schema.TaggedError<UpstreamFailure>()("UpstreamFailure", {
  code: Schema.Int,
  details: Schema.String
}) {}

export type CallError = UpstreamFailure | CircuitBreaker.CircuitOpen

export interface CallContext {
  readonly requestId: string
  readonly tracestate?: string | undefined
}

export interface Options {
  readonly target: string
  readonly deadline: Duration.Duration
  readonly retries: number
  readonly breakerThreshold: number
  readonly breakerCooldown: Duration.Duration
}

/**
 * Runs `start` with stack traces off. grpc-js captures the caller's stack (`new Error()`) on every
 * call, only to append it to a failed call's error; nothing here reads an error's stack, and the
 * capture, deep inside a fiber's run loop, was the largest single cost of starting a call.
 */
const withoutCallerStack = <A>(start: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return start()
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** Tasks failing or not answering; not RESOURCE_EXHAUSTED, a working service shedding load. */
const isOutage = (error: UpstreamFailure) =>
  error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED

export class TasksClient extends Context.Service<
  TasksClient,
  {
    readonly createTask: (
      request: Proto.CreateTaskRequest,
      ctx: CallContext
    ) => Effect.Effect<Proto.CreateTaskResponse, CallError>
    readonly getTask: (
      request: Proto.GetTaskRequest,
      ctx: CallContext
    ) => Effect.Effect<Proto.GetTaskResponse, CallError>
    readonly listTasks: (
      request: Proto.ListTasksRequest,
      ctx: CallContext
    ) => Effect.Effect<Proto.ListTasksResponse, CallError>
    readonly startTask: (
      request: Proto.StartTaskRequest,
      ctx: CallContext
    ) => Effect.Effect<Proto.StartTaskResponse, CallError>
    readonly completeTask: (
      request: Proto.CompleteTaskRequest,
      ctx: CallContext
    ) => Effect.Effect<Proto.CompleteTaskResponse, CallError>
    readonly cancelTask: (
      request: Proto.CancelTaskRequest,
      ctx: CallContext
    ) => Effect.Effect<Proto.CancelTaskResponse, CallError>
  }
>()("@workstream/gateway/TasksClient") {
  static readonly layer = (options: Options) =>
    Layer.effect(
      TasksClient,
      Effect.gen(function* () {
        const client = yield* Effect.acquireRelease(
          Effect.sync(() => new Proto.TasksServiceClient(options.target, grpc.credentials.createInsecure())),
          (c) => Effect.sync(() => c.close())
        )
        const breaker = yield* CircuitBreaker.make({
          threshold: options.breakerThreshold,
          cooldown: options.breakerCooldown
        })
        // Retry quickly: the whole call, retries included, stays within one deadline anyway.
        const retry = Schedule.exponential("25 millis").pipe(
          Schedule.jittered,
          Schedule.upTo({ times: options.retries })
        )

        const attempt = <Req, Res>(
          method: UnaryMethod<Req, Res>,
          request: Req,
          ctx: CallContext,
          traceparent: string,
          deadline: number
        ) =>
          Effect.callback<Res, UpstreamFailure>((resume) => {
            const metadata = new grpc.Metadata()
            metadata.set("x-request-id", ctx.requestId)
            metadata.set("traceparent", traceparent)
            if (ctx.tracestate !== undefined) metadata.set("tracestate", ctx.tracestate)
            const call = withoutCallerStack(() =>
              method.call(client, request, metadata, { deadline }, (error, response) =>
                resume(
                  error
                    ? Effect.fail(new UpstreamFailure({ code: error.code, details: error.details }))
                    : Effect.succeed(response)
                )
              )
            )
            // An abandoned request (client gone, gateway shutting down) cancels the call upstream.
            return Effect.sync(() => call.cancel())
          })

        const unary =
          <Req, Res>(name: string, method: UnaryMethod<Req, Res>, retryable: (request: Req) => boolean) =>
          (request: Req, ctx: CallContext) =>
            // The gateway's own client span carries the trace on (it continues the client's, if any),
            // so the gateway, tasks and the event share one trace id even when the client sent none.
            // useSpan hands the span over directly: nothing inside makes spans of its own, so it need
            // not become the current span (withSpan's extra Context change and lookup per call).
            Effect.useSpan(`workstream.tasks.v1.TasksService/${name}`, { kind: "client" }, (span) => {
              const deadline = Date.now() + Duration.toMillis(options.deadline)
              const once = attempt(method, request, ctx, TraceContext.traceparentOf(span), deadline)
              const withRetries = retryable(request)
                ? LazyRetry.retry(once, (again) =>
                    Effect.retry(again, { schedule: retry, while: (e) => e.code === grpc.status.UNAVAILABLE })
                  )
                : once
              return breaker.protect(withRetries, isOutage)
            })

        const always = () => true
        const never = () => false
        return TasksClient.of({
          // A create is only safe to repeat when an idempotency key makes the repeat a replay.
          createTask: unary("CreateTask", client.createTask, (r) => r.idempotency_key !== ""),
          getTask: unary("GetTask", client.getTask, always),
          listTasks: unary("ListTasks", client.listTasks, always),
          // UNAVAILABLE does not prove the first attempt did nothing: a repeated start or cancel could
          // answer 409 for a change that happened. Complete is idempotent, so it alone is retried.
          startTask: unary("StartTask", client.startTask, never),
          completeTask: unary("CompleteTask", client.completeTask, always),
          cancelTask: unary("CancelTask", client.cancelTask, never)
        })
      })
    )
}
