/**
 * Makes every error response of the gateway RFC 9457 problem+json, including the ones the
 * router and the body reader produce themselves (unknown route, unsupported content type,
 * body too large), and turns "route exists but not with this method" into 405 with `Allow`.
 * The methods per path are read from the API declaration, so they cannot drift from it. Being
 * the outermost step, it also records every request's metrics with its final status.
 */
import { Effect, Layer, type Types } from "effect"
import { HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Metrics from "./metrics.ts"
import { allowedMethods, pathOf } from "./routeTable.ts"

const STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
  503: "Service Unavailable"
}

const problem = (status: number, extra: Record<string, string> = {}) =>
  HttpServerResponse.jsonUnsafe(
    { type: "about:blank", title: STATUS_TITLES[status] ?? "Error", status },
    { status, contentType: "application/problem+json", headers: extra }
  )

/** 405 with `Allow` when the path exists with other methods, else 404. */
const unmatchedProblem = (request: HttpServerRequest.HttpServerRequest) => {
  const allowed = allowedMethods(pathOf(request.url))
  return allowed !== undefined && !allowed.includes(request.method)
    ? problem(405, { allow: allowed.join(", ") })
    : problem(404)
}

const asProblem = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse
): HttpServerResponse.HttpServerResponse => {
  if (response.status < 400) return response
  if ((response.headers["content-type"] ?? "").startsWith("application/problem+json")) return response
  if (response.status === 404) return unmatchedProblem(request)
  // Whatever the body said (plain text, nothing, an internal message), only the status stays.
  return problem(response.status)
}

/** Requests no declared route matches: 405 with `Allow` when the path exists, else 404. */
const unmatched = HttpRouter.add("*", "/*", (request) => Effect.succeed(unmatchedProblem(request)))

// Declared as still able to fail (`unhandled`), as the router requires of a middleware; it never does.
const normalize = HttpRouter.middleware(
  (app): Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled, HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const startedAt = performance.now()
      // Failures the handler did not render (body too large, unreadable body) become responses here.
      const response = yield* app.pipe(
        Effect.catchCause((cause) =>
          Effect.flatMap(HttpServerError.causeResponse(cause), ([rendered, rest]) =>
            // A 4xx is the client's doing; a 5xx is ours and worth a log line with its cause.
            (rendered.status >= 500 ? Effect.logError("request failed", rest) : Effect.void).pipe(Effect.as(rendered))
          )
        )
      )
      const final = asProblem(request, response)
      yield* Metrics.record(request, final, startedAt)
      return final
    }),
  { global: true }
)

export const layer = Layer.mergeAll(unmatched, normalize)
