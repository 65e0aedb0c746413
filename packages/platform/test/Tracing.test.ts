import { assert, describe, it } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import * as Tracing from "../src/Tracing.ts"

/** A tracing backend, as the OTLP export installs one. */
const backend = Tracer.make({ span: (options) => Tracer.nativeTracer.span(options) })

/** The name of the span a step runs in, inside a hop's span (as a consumer or a command makes them). */
const spanInsideStep = Effect.gen(function* () {
  const step = Tracing.step(yield* Tracing.exporting, "step")
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
