/**
 * Bridges grpc-js unary handlers to Effect: each call runs as a fiber with the service's
 * context, is interrupted when the client cancels or its deadline passes (so work stops), is
 * told that deadline (`CallDeadline`, for work that runs apart from it), answers typed failures
 * with their status and any defect with a bare INTERNAL, and records the RPC's count and latency
 * by method and code.
 */

import { randomUUID } from "node:crypto"
import { type Metadata, type ServerUnaryCall, type sendUnaryData, status } from "@grpc/grpc-js"
import { MetricFamily, TraceContext } from "@workstream/platform"
import { Cause, type Context, Effect, Exit, Metric } from "effect"
import { CallDeadline } from "../CallDeadline.ts"
import type { GrpcFailure } from "./errorStatus.ts"

export interface CallContext {
  readonly requestId: string
  readonly trace: TraceContext.TraceContext
}

const rpcCalls = MetricFamily.of((attributes: { method: string; code: string }) =>
  Metric.counter("rpc_server_calls_total", { description: "gRPC calls served, by method and code", attributes })
)
const rpcDuration = MetricFamily.of((attributes: { method: string }) =>
  Metric.histogram("rpc_server_duration_seconds", {
    description: "gRPC call latency in seconds, by method",
    boundaries: MetricFamily.latencySeconds,
    attributes
  })
)

const first = (metadata: Metadata, key: string): string | undefined => {
  const [value] = metadata.get(key)
  return typeof value === "string" && value !== "" ? value : undefined
}

const callContext = (metadata: Metadata): CallContext => {
  const traceparent = first(metadata, "traceparent")
  const tracestate = TraceContext.validTracestate(first(metadata, "tracestate"))
  return {
    // Bounded so a hostile header cannot flood every log line.
    requestId: (first(metadata, "x-request-id") ?? randomUUID()).slice(0, 128),
    trace: {
      ...(traceparent === undefined ? {} : { traceparent }),
      ...(tracestate === undefined ? {} : { tracestate })
    }
  }
}

/** The call's deadline as epoch ms; infinite when the client set none. */
const deadlineOf = (deadline: ReturnType<ServerUnaryCall<unknown, unknown>["getDeadline"]>): number =>
  deadline instanceof Date ? deadline.getTime() : deadline

/**
 * A call cancelled this close to its deadline counts as past it: grpc-js' deadline timer can fire
 * early by the wall clock, by as long as its event loop's cached time lagged when it was set. A
 * lag longer than this (a loop stalled as the call arrived) counts that deadline as CANCELLED in
 * the metric; the client hears DEADLINE_EXCEEDED either way.
 */
const DEADLINE_SLACK_MS = 100

/** The call's status; an interrupted call was cancelled by its client, or by grpc-js at its deadline. */
const codeOf = <A>(exit: Exit.Exit<A, GrpcFailure>, expired: boolean): status => {
  if (Exit.isSuccess(exit)) return status.OK
  const failure = Cause.findErrorOption(exit.cause)
  if (failure._tag === "Some") return failure.value.code
  if (!Cause.hasInterruptsOnly(exit.cause)) return status.INTERNAL
  return expired ? status.DEADLINE_EXCEEDED : status.CANCELLED
}

/** Makes grpc-js handlers that run Effects with the given services. */
export const makeUnary =
  <R>(context: Context.Context<R>) =>
  <Req, Res>(method: string, handler: (request: Req, call: CallContext) => Effect.Effect<Res, GrpcFailure, R>) =>
  (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const ctx = callContext(call.metadata)
    const parent = TraceContext.parentOf(ctx.trace.traceparent)
    const deadline = deadlineOf(call.getDeadline())
    const started = performance.now()
    // grpc-js keeps the deadline itself: it answers DEADLINE_EXCEEDED then and cancels the call,
    // which interrupts the fiber (below). An Effect timeout as well raced two more fibers per call.
    let expired = false
    const program = handler(call.request, ctx).pipe(
      (effect) => (Number.isFinite(deadline) ? Effect.provideService(effect, CallDeadline, deadline) : effect),
      Effect.onExit((exit) => {
        const code = codeOf(exit, expired)
        return Effect.all([
          Metric.update(rpcCalls({ method, code: status[code] ?? String(code) }), 1),
          Metric.update(rpcDuration({ method }), (performance.now() - started) / 1000)
        ])
      }),
      Effect.tapCause((cause) => (Cause.hasDies(cause) ? Effect.logError("gRPC handler failed", cause) : Effect.void)),
      Effect.withSpan(
        `workstream.tasks.v1.TasksService/${method}`,
        {
          kind: "server",
          // Continue the caller's trace, so log lines and the event carry the request's trace id.
          ...(parent === undefined ? {} : { parent }),
          attributes: { "rpc.system": "grpc", "rpc.method": method }
        },
        // No stack trace: captured per call, and it would only point into this wrapper.
        { captureStackTrace: false }
      ),
      Effect.annotateLogs({ request_id: ctx.requestId, rpc: method })
    )
    const fiber = Effect.runForkWith(context)(program)
    // Also emitted after a call is answered: the interrupt of a finished fiber does nothing.
    call.on("cancelled", () => {
      expired = Date.now() >= deadline - DEADLINE_SLACK_MS
      fiber.interruptUnsafe()
    })
    fiber.addObserver((exit) => {
      if (Exit.isSuccess(exit)) return callback(null, exit.value)
      const failure = Cause.findErrorOption(exit.cause)
      if (failure._tag === "Some") return callback({ code: failure.value.code, details: failure.value.details })
      // A cancelled call has no one to answer; a defect gets no detail beyond its code.
      if (!Cause.hasInterruptsOnly(exit.cause)) callback({ code: status.INTERNAL, details: "internal error" })
    })
  }
