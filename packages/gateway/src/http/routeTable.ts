/**
 * The gateway's routes as path patterns, read from the API declaration so they cannot drift
 * from it: which methods a path accepts (for 405), and its template (a bounded metric label).
 */
import { HttpApi } from "effect/http-api"
import { Api } from "../Api.ts"

interface Route {
  readonly pattern: RegExp
  readonly template: string
  readonly methods: ReadonlyArray<string>
}

const OPERATIONAL = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]

const routes: ReadonlyArray<Route> = (() => {
  const byPath = new Map<string, Set<string>>()
  HttpApi.reflect(Api, {
    onGroup: () => undefined,
    onEndpoint: ({ endpoint }) => {
      byPath.set(endpoint.path, (byPath.get(endpoint.path) ?? new Set<string>()).add(endpoint.method))
    }
  })
  for (const path of OPERATIONAL) byPath.set(path, new Set(["GET"]))
  return [...byPath].map(([template, methods]) => ({
    pattern: new RegExp(`^${template.replace(/\./g, "\\.").replace(/:[^/]+/g, "[^/]+")}/?$`),
    template,
    methods: [...methods]
  }))
})()

const routeOf = (path: string): Route | undefined => routes.find((route) => route.pattern.test(path))

export const allowedMethods = (path: string): ReadonlyArray<string> | undefined => routeOf(path)?.methods

/** `/api/v1/tasks/:id`, not the id itself, so the label's values stay few. */
export const templateOf = (path: string): string => routeOf(path)?.template ?? "unmatched"

/** The path of a request target, also for targets `new URL` cannot parse (`GET http://[`). */
export const pathOf = (url: string): string => {
  const base = "http://gateway"
  return URL.canParse(url, base) ? new URL(url, base).pathname : (url.split("?")[0] ?? url)
}
