/**
 * Makes every error response of the gateway RFC 9457 problem+json, including the ones the
 * router and the body reader produce themselves (unknown route, unsupported content type,
 * body too large), and turns "route exists but not with this method" into 405 with `Allow`.
 * The methods per path are read from the API declaration, so they cannot drift from it.
 */
import { Effect, Layer, type Types } from "effect"
import { HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApi } from "effect/http-api"
import { Api } from "../Api.ts"

const STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  500: "Internal Server Error",
  503: "Service Unavailable"
}

const OPERATIONAL: ReadonlyArray<readonly [RegExp, ReadonlyArray<string>]> = [
  [/^\/(healthz|readyz|metrics|openapi\.json|docs)$/, ["GET"]]
]

/** Each declared path as a pattern (`:id` matches one segment) with the methods it accepts. */
const routes = (() => {
  const byPath = new Map<string, Set<string>>()
  HttpApi.reflect(Api, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint }) => {
      const methods = byPath.get(endpoint.path) ?? new Set<string>()
      methods.add(endpoint.method)
      byPath.set(endpoint.path, methods)
    }
  })
  const declared = [...byPath].map(
    ([path, methods]) => [new RegExp(`^${path.replace(/:[^/]+/g, "[^/]+")}/?$`), [...methods]] as const
  )
  return [...declared, ...OPERATIONAL]
})()

const allowedMethods = (path: string): ReadonlyArray<string> | undefined =>
  routes.find(([pattern]) => pattern.test(path))?.[1]

const problem = (status: number, extra: Record<string, string> = {}) =>
  HttpServerResponse.jsonUnsafe(
    { type: "about:blank", title: STATUS_TITLES[status] ?? "Error", status },
    { status, contentType: "application/problem+json", headers: extra }
  )

/** Requests no declared route matches: 405 with `Allow` when the path exists, else 404. */
const unmatched = HttpRouter.add("*", "/*", (request) => {
  const allowed = allowedMethods(new URL(request.url, "http://gateway").pathname)
  return Effect.succeed(
    allowed !== undefined && !allowed.includes(request.method)
      ? problem(405, { allow: allowed.join(", ") })
      : problem(404)
  )
})

// Declared as still able to fail (`unhandled`), as the router requires of a middleware; it never does.
const normalize = HttpRouter.middleware(
  (app): Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled, HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      // Failures the handler did not render (body too large, unreadable body) become responses here.
      const response = yield* app.pipe(
        Effect.catchCause((cause) =>
          Effect.flatMap(HttpServerError.causeResponse(cause), ([rendered, rest]) =>
            // A 4xx is the client's doing; a 5xx is ours and worth a log line with its cause.
            (rendered.status >= 500 ? Effect.logError("request failed", rest) : Effect.void).pipe(Effect.as(rendered))
          )
        )
      )
      if (response.status < 400) return response
      const contentType = response.headers["content-type"] ?? ""
      if (contentType.startsWith("application/problem+json")) return response
      const path = new URL(request.url, "http://gateway").pathname
      const allowed = response.status === 404 ? allowedMethods(path) : undefined
      if (allowed !== undefined && !allowed.includes(request.method)) {
        return problem(405, { allow: allowed.join(", ") })
      }
      // Whatever the body said (plain text, nothing, an internal message), only the status stays.
      return problem(response.status)
    }),
  { global: true }
)

export const layer = Layer.mergeAll(unmatched, normalize)
