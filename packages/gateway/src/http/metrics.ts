/** RED metrics of the REST API: requests by route template, method and status, and their latency. */
import { Effect, Metric } from "effect"
import type { HttpServerRequest, HttpServerResponse } from "effect/http"
import { pathOf, templateOf } from "./routeTable.ts"

const requests = Metric.counter("http_server_requests_total", {
  description: "HTTP requests served, by route, method and status"
})
const duration = Metric.histogram("http_server_duration_seconds", {
  description: "HTTP request latency in seconds, by route and method",
  boundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
})

/** Records one served request; `startedAt` is a `performance.now()` reading. */
export const record = (
  request: HttpServerRequest.HttpServerRequest,
  response: HttpServerResponse.HttpServerResponse,
  startedAt: number
) => {
  const route = templateOf(pathOf(request.url))
  return Effect.all([
    Metric.update(
      requests.pipe(Metric.withAttributes({ route, method: request.method, status: String(response.status) })),
      1
    ),
    Metric.update(
      duration.pipe(Metric.withAttributes({ route, method: request.method })),
      (performance.now() - startedAt) / 1000
    )
  ])
}
