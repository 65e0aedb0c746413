/**
 * `/docs`: Scalar's API reference page, served from the package (no CDN). Its script is a 6 MB
 * string that stays in memory once loaded (about 13 MB of the gateway's heap), so it is loaded on
 * the first visit instead of at start: most gateways never serve it.
 */
import { Effect, Scope } from "effect"
import { HttpRouter } from "effect/http"
import { Api } from "../Api.ts"

export const layer = HttpRouter.use(
  Effect.fnUntraced(function* (router) {
    const scope = yield* Effect.scope
    const page = yield* Effect.cached(
      Effect.promise(() => import("effect/http-api/HttpApiScalar")).pipe(
        Effect.flatMap((Scalar) => HttpRouter.toHttpEffect(Scalar.layer(Api, { path: "/docs" }))),
        Scope.provide(scope)
      )
    )
    yield* router.add("GET", "/docs", Effect.flatten(page))
  })
)
