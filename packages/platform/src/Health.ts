/**
 * Liveness and readiness for Kubernetes probes and operators: `/healthz` answers while the
 * process lives; `/readyz` runs every registered dependency check (each with a timeout) and
 * answers 200 only when all pass, with a JSON body naming each dependency.
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Cause, Context, Duration, Effect, Layer, Option, Ref } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import * as RuntimeMetrics from "./RuntimeMetrics.ts"

/** Figures worth showing beside a dependency's status (lag, depth); `{}` when there are none. */
export type Figures = Readonly<Record<string, unknown>>

/** A check succeeds when its dependency answers. */
export type Check = Effect.Effect<Figures, unknown>

export interface DependencyStatus {
  /** "lagging": it answers, but one of its figures is over its bound. */
  readonly status: "up" | "down" | "lagging"
  readonly error?: string
  /** The figures over their bounds, with the bounds. */
  readonly over?: Readonly<Record<string, number>>
  readonly [figure: string]: unknown
}

/** Upper bounds of a check's numeric figures (e.g. `{ outbox_oldest_age_ms: 30000 }`). */
export type Bounds = Readonly<Record<string, number>>

export interface ReadinessReport {
  /**
   * "degraded": ready, but a dependency the service can work without is down, or a figure is over
   * its bound (lag, depth): it stays in rotation, the outbox and queues exist to absorb exactly that.
   */
  readonly status: "ready" | "degraded" | "not_ready" | "draining"
  readonly dependencies: Record<string, DependencyStatus>
}

const CHECK_TIMEOUT = Duration.seconds(2)

const overBounds = (figures: Figures, bounds: Bounds): Record<string, number> =>
  Object.fromEntries(
    Object.entries(bounds).filter(([figure, bound]) => {
      const value = figures[figure]
      return typeof value === "number" && value > bound
    })
  )

const run = (check: Check, bounds: Bounds): Effect.Effect<DependencyStatus> =>
  check.pipe(
    Effect.timeout(CHECK_TIMEOUT),
    // matchCause: a check that dies reports its dependency down instead of failing /readyz.
    Effect.matchCause({
      onSuccess: (figures): DependencyStatus => {
        const over = overBounds(figures, bounds)
        return Object.keys(over).length === 0 ? { ...figures, status: "up" } : { ...figures, status: "lagging", over }
      },
      // The reason stays generic on purpose: readiness bodies are reachable from outside.
      onFailure: (cause) => ({
        status: "down" as const,
        error: Cause.findErrorOption(cause).pipe(
          Option.match({
            onNone: () => "unavailable",
            onSome: (e) => (Cause.isTimeoutError(e) ? "timed out" : "unavailable")
          })
        )
      })
    })
  )

export class Readiness extends Context.Service<
  Readiness,
  {
    /**
     * `essential: false` for a dependency the service keeps working without (the broker, for a
     * service with an outbox): its failure reports "degraded" but keeps the service ready.
     * `bounds`: a figure over its bound reports "degraded" too, and logs a warning when it crosses.
     */
    readonly register: (
      name: string,
      check: Check,
      options?: { readonly essential?: boolean; readonly bounds?: Bounds }
    ) => Effect.Effect<void>
    readonly report: Effect.Effect<ReadinessReport>
    /** From now on report "draining": the service is shutting down and takes no new work. */
    readonly drain: Effect.Effect<void>
  }
>()("@workstream/platform/Readiness") {
  static readonly layer = Layer.effect(
    Readiness,
    Effect.gen(function* () {
      const checks = yield* Ref.make(
        new Map<string, { readonly check: Check; readonly essential: boolean; readonly bounds: Bounds }>()
      )
      const draining = yield* Ref.make(false)
      // Which dependencies were lagging at the last report: a warning is logged when one starts to.
      const lagging = yield* Ref.make(new Set<string>())
      return Readiness.of({
        register: (name, check, options) =>
          Ref.update(checks, (all) =>
            new Map(all).set(name, { check, essential: options?.essential ?? true, bounds: options?.bounds ?? {} })
          ),
        drain: Ref.set(draining, true),
        report: Effect.gen(function* () {
          const entries = [...(yield* Ref.get(checks))]
          const results = yield* Effect.forEach(
            entries,
            ([name, { check, essential, bounds }]) =>
              Effect.map(run(check, bounds), (status) => [name, status, essential] as const),
            { concurrency: "unbounded" }
          )
          const nowLagging = new Set(results.filter(([, s]) => s.status === "lagging").map(([name]) => name))
          const before = yield* Ref.getAndSet(lagging, nowLagging)
          for (const [name, s] of results) {
            if (s.status === "lagging" && !before.has(name))
              yield* Effect.logWarning(`${name} over its bounds: ${JSON.stringify(s.over)}; still serving (degraded)`)
          }
          const down = results.filter(([, s]) => s.status === "down")
          const status: ReadinessReport["status"] = (yield* Ref.get(draining))
            ? "draining"
            : down.some(([, , essential]) => essential)
              ? "not_ready"
              : down.length > 0 || nowLagging.size > 0
                ? "degraded"
                : "ready"
          return { status, dependencies: Object.fromEntries(results.map(([name, s]) => [name, s])) }
        })
      })
    })
  )
}

/** `/healthz`, `/readyz` and `/metrics` (with the Node runtime's figures), to mount on any service's HTTP router. */
export const routes = Layer.mergeAll(
  HttpRouter.add("GET", "/healthz", HttpServerResponse.jsonUnsafe({ status: "ok" })),
  HttpRouter.add(
    "GET",
    "/readyz",
    Effect.gen(function* () {
      const report = yield* (yield* Readiness).report
      const inRotation = report.status === "ready" || report.status === "degraded"
      return HttpServerResponse.jsonUnsafe(report, { status: inRotation ? 200 : 503 })
    })
  ),
  PrometheusMetrics.layerHttp({ path: "/metrics" }),
  RuntimeMetrics.layer
)

/** An HTTP server with just the operational routes: for services whose main interface is not HTTP. */
export const serve = (options: { readonly port: number; readonly host?: string }) =>
  HttpRouter.serve(routes, { disableLogger: true }).pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: options.port, host: options.host ?? "0.0.0.0" }))
  )
