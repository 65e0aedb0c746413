/**
 * The whole gateway as one Layer: the REST API (with its OpenAPI document and docs page), the
 * operational routes, request correlation, and the tasks client, on one HTTP server.
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Health, HttpEdge } from "@workstream/platform"
import { ByteSize, Duration, Effect, Layer } from "effect"
import { HttpIncomingMessage, HttpRouter } from "effect/http"
import { HttpApiBuilder, HttpApiMiddleware } from "effect/http-api"
import { Api } from "./Api.ts"
import type { GatewaySettings } from "./GatewayConfig.ts"
import { TasksClient } from "./grpc/TasksClient.ts"
import * as TasksHealth from "./grpc/TasksHealth.ts"
import * as Correlation from "./http/correlation.ts"
import * as Docs from "./http/docs.ts"
import { TasksHandlers } from "./http/TasksHandlers.ts"

/** `/readyz`: ready only while the tasks service says SERVING. */
const readinessChecks = (settings: GatewaySettings) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const readiness = yield* Health.Readiness
      const check = yield* TasksHealth.make(settings.tasksTarget, Duration.seconds(1))
      yield* readiness.register("tasks", Effect.as(check, {}))
      yield* Effect.addFinalizer(() => readiness.drain)
    })
  )

export const layer = (settings: GatewaySettings, options: { readonly host?: string } = {}) => {
  const api = HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }).pipe(
    Layer.provide(TasksHandlers),
    Layer.provide(HttpApiMiddleware.layerProblemDetails({ includeDetails: true }))
  )
  const routes = Layer.mergeAll(api, Docs.layer, Health.routes, Correlation.layer, HttpEdge.layer(Api))
  const client = TasksClient.layer({
    target: settings.tasksTarget,
    deadline: settings.tasksDeadline,
    retries: settings.tasksRetries,
    breakerThreshold: settings.breakerThreshold,
    breakerCooldown: settings.breakerCooldown
  })
  return HttpRouter.serve(routes, { disableLogger: true }).pipe(
    Layer.provideMerge(readinessChecks(settings)),
    Layer.provide(client),
    Layer.provide(Health.Readiness.layer),
    // Enforced while the body streams in, so a chunked body without Content-Length is bounded too.
    Layer.provide(Layer.succeed(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(settings.maxBodyBytes))),
    Layer.provide(NodeHttpServer.layer(createServer, { port: settings.httpPort, host: options.host ?? "0.0.0.0" })),
    Layer.provide(HttpEdge.spanNames(Api))
  )
}
