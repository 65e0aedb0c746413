/**
 * The edge every HTTP API of Workstream shares, built from its `HttpApi` declaration so it cannot
 * drift from it:
 * - every error response is RFC 9457 problem+json, including the ones the router and the body
 *   reader produce themselves (unknown route, unsupported content type, body too large);
 * - "the path exists but not with this method" is 405 with `Allow`;
 * - every request's RED metrics are recorded with its final status, labelled by route template.
 */
import { Effect, Layer, Metric, type Types } from "effect"
import { HttpMiddleware, HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApi, type HttpApiGroup } from "effect/http-api"
import * as MetricFamily from "./MetricFamily.ts"

interface Route {
  readonly pattern: RegExp
  readonly template: string
  readonly methods: ReadonlyArray<string>
}

interface RouteTable {
  readonly allowedMethods: (path: string) => ReadonlyArray<string> | undefined
  /** `/api/v1/tasks/:id`, not the id itself, so the label's values stay few. */
  readonly templateOf: (path: string) => string
}

const OPERATIONAL = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]

const routeTable = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>
): RouteTable => {
  const byPath = new Map<string, Set<string>>()
  HttpApi.reflect(api, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint }) => {
      byPath.set(endpoint.path, (byPath.get(endpoint.path) ?? new Set<string>()).add(endpoint.method))
    }
  })
  for (const path of OPERATIONAL) byPath.set(path, new Set(["GET"]))
  const routes: ReadonlyArray<Route> = [...byPath].map(([template, methods]) => ({
    pattern: new RegExp(`^${template.replace(/\./g, "\\.").replace(/:[^/]+/g, "[^/]+")}/?$`),
    template,
    methods: [...methods]
  }))
  const routeOf = (path: string) => routes.find((route) => route.pattern.test(path))
  return {
    allowedMethods: (path) => routeOf(path)?.methods,
    templateOf: (path) => routeOf(path)?.template ?? "unmatched"
  }
}

/** The path of a request target, also for targets `new URL` cannot parse (`GET http://[`). */
export const pathOf = (url: string): string => {
  const base = "http://edge"
  return URL.canParse(url, base) ? new URL(url, base).pathname : (url.split("?")[0] ?? url)
}

const requests = MetricFamily.of((attributes: { route: string; method: string; status: string }) =>
  Metric.counter("http_server_requests_total", {
    description: "HTTP requests served, by route, method and status",
    attributes
  })
)
const duration = MetricFamily.of((attributes: { route: string; method: string }) =>
  Metric.histogram("http_server_duration_seconds", {
    description: "HTTP request latency in seconds, by route and method",
    boundaries: MetricFamily.latencySeconds,
    attributes
  })
)

const record = (
  table: RouteTable,
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse,
  startedAt: number
) => {
  const route = table.templateOf(pathOf(request.url))
  return Effect.all([
    Metric.update(requests({ route, method: request.method, status: String(response.status) }), 1),
    Metric.update(duration({ route, method: request.method }), (performance.now() - startedAt) / 1000)
  ])
}

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

export const layer = <Id extends string, Groups extends HttpApiGroup.Constraint>(api: HttpApi.HttpApi<Id, Groups>) => {
  const table = routeTable(api)

  /** 405 with `Allow` when the path exists with other methods, else 404. */
  const unmatchedProblem = (request: HttpServerRequest.HttpServerRequest) => {
    const allowed = table.allowedMethods(pathOf(request.url))
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
        yield* record(table, request, final, startedAt)
        return final
      }),
    { global: true }
  )

  return Layer.mergeAll(unmatched, normalize)
}

/**
 * Names each request's server span `METHOD /route/:template` (OpenTelemetry's HTTP convention:
 * the method and the route, never the raw path) instead of the bare method; a path no declared
 * route matches keeps the bare method. Provide it to the server's layer.
 */
export const spanNames = <Id extends string, Groups extends HttpApiGroup.Constraint>(
  api: HttpApi.HttpApi<Id, Groups>
) => {
  const table = routeTable(api)
  return Layer.succeed(HttpMiddleware.SpanNameGenerator, (request) => {
    const template = table.templateOf(pathOf(request.url))
    return template === "unmatched" ? request.method : `${request.method} ${template}`
  })
}
