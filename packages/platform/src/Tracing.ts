/**
 * Trace export: spans go out over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (e.g.
 * `http://otel-collector:4318`), batched. Unset, nothing is installed, and the OpenTelemetry SDK
 * is not even loaded: Effect's own tracer still gives every log line a trace_id and span_id and
 * carries `traceparent` across hops, at no export cost.
 */
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Config, Effect, Layer, Option, Schema, Tracer } from "effect"
import * as ServiceConfig from "./ServiceConfig.ts"

/**
 * Whether a tracing backend is installed (the OTLP export below, or a test's processor). The
 * hops' spans whose ids travel on (servers, clients, producers) are made always: their ids go out
 * as `traceparent` and name every log line. A span nothing downstream sees only a backend could.
 */
export const exporting: Effect.Effect<boolean> = Effect.map(Effect.tracer, (tracer) => tracer !== Tracer.nativeTracer)

/** Runs an effect in a span of its own, or as it is. */
export type Step = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/**
 * Named spans inside a hop, made only when a tracing backend is installed (read once, when a
 * layer is built), without a stack trace:
 *
 *   const traced = yield* Tracing.steps
 *   const create = Effect.fnUntraced(function* (...) { ... }, traced("Tasks.create"))
 *
 * With nothing to see them they were a cost of their own: the consumer's three steps about a
 * seventh of its CPU per event, and `Effect.fn(name)`, which makes its span and captures the
 * call's stack on every call, about 5 us and 4.5 KB each in a service's Context (micro-benchmark).
 */
export const steps: Effect.Effect<(name: string) => Step> = Effect.map(
  exporting,
  (exported) =>
    (name): Step =>
      exported ? Effect.withSpan(name, undefined, { captureStackTrace: false }) : (effect) => effect
)

/** The OpenTelemetry tracer for one service, sending its spans to `processor`. */
export const layerWith = (service: string, processor: SpanProcessor) =>
  Layer.unwrap(
    Effect.map(
      Effect.promise(() => import("@effect/opentelemetry/NodeSdk")),
      (NodeSdk) => NodeSdk.layer(() => ({ resource: { serviceName: service }, spanProcessor: processor }))
    )
  )

/** Where spans go: an http(s) URL, checked at start (a typo would otherwise lose every span quietly). */
const otlpEndpoint = Config.option(
  Config.schema(
    Schema.String.check(
      Schema.makeFilter((url: string) => {
        const protocol = URL.parse(url)?.protocol
        return protocol === "http:" || protocol === "https:"
          ? undefined
          : "must be a URL starting with http:// or https://, e.g. http://otel-collector:4318"
      })
    ),
    "OTEL_EXPORTER_OTLP_ENDPOINT"
  )
)

/** `OTEL_EXPORTER_OTLP_ENDPOINT`, read with the service's own settings (`ServiceConfig.all`) so one message names every bad variable. */
export const endpoint: Effect.Effect<Option.Option<string>, ServiceConfig.ConfigInvalid> = Effect.map(
  ServiceConfig.load({ endpoint: otlpEndpoint }),
  (settings) => settings.endpoint
)

/** Exports to `endpoint` over OTLP when there is one; otherwise does nothing. */
export const layer = (service: string, endpoint: Option.Option<string>) =>
  Layer.unwrap(
    Effect.gen(function* () {
      if (Option.isNone(endpoint)) return Layer.empty
      yield* Effect.logInfo(`exporting traces to ${endpoint.value}`)
      const url = `${endpoint.value.replace(/\/+$/, "")}/v1/traces`
      const [{ OTLPTraceExporter }, { BatchSpanProcessor }] = yield* Effect.promise(() =>
        Promise.all([import("@opentelemetry/exporter-trace-otlp-http"), import("@opentelemetry/sdk-trace-base")])
      )
      return layerWith(service, new BatchSpanProcessor(new OTLPTraceExporter({ url })))
    })
  )
