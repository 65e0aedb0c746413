/**
 * Request correlation: every request gets an `X-Request-Id` (the client's, bounded, or a new
 * one) that is echoed on the response, and its id and W3C `traceparent` annotate every log line
 * of the request. Handlers read the chosen id from the request, which carries it; the
 * `traceparent` becomes the parent of the request's spans, the call to tasks among them.
 */
import { randomUUID } from "node:crypto"
import { TraceContext } from "@workstream/platform"
import { Effect } from "effect"
import { Headers, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export const layer = HttpRouter.middleware(
  Effect.succeed((app) =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const offered = request.headers["x-request-id"]
      const requestId = offered !== undefined && REQUEST_ID.test(offered) ? offered : randomUUID()
      const traceId = TraceContext.traceIdOf(request.headers.traceparent)
      const parent = TraceContext.parentOf(request.headers.traceparent)
      const response = yield* app.pipe(
        // Spans of this request (the call to tasks among them) continue the client's trace.
        (effect) => (parent === undefined ? effect : Effect.withParentSpan(effect, parent)),
        Effect.provideService(
          HttpServerRequest.HttpServerRequest,
          request.modify({ headers: Headers.set(request.headers, "x-request-id", requestId) })
        ),
        Effect.annotateLogs({ request_id: requestId, ...(traceId === undefined ? {} : { trace_id: traceId }) })
      )
      return HttpServerResponse.setHeader(response, "x-request-id", requestId)
    })
  ),
  { global: true }
)
