import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Tracer } from "effect"
import * as Tracing from "../src/Tracing.ts"

/** A tracing backend, as the OTLP export installs one. */
const backend = Tracer.make({ span: (options) => Tracer.nativeTracer.span(options) })

/** The name of the span a step runs in, inside a hop's span (as a consumer or a command makes them). */
const spanInsideStep = Effect.gen(function* () {
  const step = (yield* Tracing.steps)("step")
  return yield* Effect.currentSpan.pipe(
    Effect.map((span) => span.name),
    step,
    Effect.withSpan("hop")
  )
})

describe("step spans", () => {
  it.effect("without a tracing backend, a step makes no span: it runs in its hop's", () =>
    Effect.gen(function* () {
      assert.isFalse(yield* Tracing.exporting)
      assert.strictEqual(yield* spanInsideStep, "hop")
    })
  )

  it.effect("with a backend installed, a step is a span of its own inside the hop", () =>
    Effect.gen(function* () {
      assert.isTrue(yield* Tracing.exporting.pipe(Effect.withTracer(backend)))
      assert.strictEqual(yield* spanInsideStep.pipe(Effect.withTracer(backend)), "step")
    })
  )
})

describe("the OTLP export's configuration", () => {
  /** Whether a service built with `Tracing.layer` and the endpoint read from this environment would export its spans. */
  const exportingWith = (env: Record<string, string>) =>
    Effect.scoped(
      Effect.flatMap(
        Layer.build(Layer.unwrap(Effect.map(Tracing.endpoint, (e) => Tracing.layer("test", e)))),
        (context) => Tracing.exporting.pipe(Effect.provideContext(context))
      )
    ).pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

  it.effect("unset: nothing is installed, nothing exported", () =>
    Effect.gen(function* () {
      assert.isFalse(yield* exportingWith({}))
    })
  )

  it.effect("an http(s) URL: spans are exported", () =>
    Effect.gen(function* () {
      assert.isTrue(yield* exportingWith({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }))
    })
  )

  it.effect("anything else fails the start, naming the variable (a typo would lose every span quietly)", () =>
    Effect.gen(function* () {
      for (const endpoint of ["otel-collector:4318", "127.0.0.1:4318", "grpc://collector:4317", "not a url"]) {
        const error = yield* Effect.flip(exportingWith({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }))
        assert.strictEqual(error._tag, "ConfigInvalid", endpoint)
        assert.include(
          error.message,
          "OTEL_EXPORTER_OTLP_ENDPOINT: must be a url starting with http:// or https://",
          endpoint
        )
      }
    })
  )
})
