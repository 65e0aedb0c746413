import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref, Schema } from "effect"
import { Health } from "../src/index.ts"

class BrokerDown extends Schema.TaggedError<BrokerDown>()("BrokerDown", { detail: Schema.String }) {}

describe("Health.Readiness", () => {
  it.effect("is ready only when every dependency answers, and names each one with its figures", () =>
    Effect.gen(function* () {
      const readiness = yield* Health.Readiness
      yield* readiness.register("postgres", Effect.succeed({ outbox_pending: 3 }))
      assert.deepStrictEqual(yield* readiness.report, {
        status: "ready",
        dependencies: { postgres: { status: "up", outbox_pending: 3 } }
      })
      yield* readiness.register("rabbitmq", Effect.fail(new BrokerDown({ detail: "ECONNREFUSED 10.0.0.7:5672" })))
      const report = yield* readiness.report
      assert.strictEqual(report.status, "not_ready")
      // Internal detail (addresses, driver messages) never reaches the body.
      assert.deepStrictEqual(report.dependencies.rabbitmq, { status: "down", error: "unavailable" })
    }).pipe(Effect.provide(Health.Readiness.layer))
  )

  it.effect("reports draining once shutdown began, even with every dependency up", () =>
    Effect.gen(function* () {
      const readiness = yield* Health.Readiness
      yield* readiness.register("postgres", Effect.succeed({}))
      yield* readiness.drain
      assert.strictEqual((yield* readiness.report).status, "draining")
    }).pipe(Effect.provide(Health.Readiness.layer))
  )

  it.effect("a check that dies reports its dependency down, not a failed /readyz", () =>
    Effect.gen(function* () {
      const readiness = yield* Health.Readiness
      yield* readiness.register("store", Effect.die("corrupt row"))
      const report = yield* readiness.report
      assert.deepStrictEqual(report, {
        status: "not_ready",
        dependencies: { store: { status: "down", error: "unavailable" } }
      })
    }).pipe(Effect.provide(Health.Readiness.layer))
  )

  it.effect("a non-essential dependency that is down degrades the service but keeps it ready", () =>
    Effect.gen(function* () {
      const readiness = yield* Health.Readiness
      yield* readiness.register("postgres", Effect.succeed({}))
      yield* readiness.register("rabbitmq", Effect.fail(new BrokerDown({ detail: "x" })), { essential: false })
      assert.strictEqual((yield* readiness.report).status, "degraded")
    }).pipe(Effect.provide(Health.Readiness.layer))
  )

  it.effect("a figure over its bound degrades the service, keeps it ready, and names the figure and the bound", () =>
    Effect.gen(function* () {
      const readiness = yield* Health.Readiness
      const age = yield* Ref.make(1_000)
      yield* readiness.register(
        "postgres",
        Effect.map(Ref.get(age), (ms) => ({ outbox_oldest_age_ms: ms })),
        { bounds: { outbox_oldest_age_ms: 30_000 } }
      )
      assert.strictEqual((yield* readiness.report).status, "ready")
      yield* Ref.set(age, 45_000)
      assert.deepStrictEqual(yield* readiness.report, {
        status: "degraded",
        dependencies: {
          postgres: { status: "lagging", outbox_oldest_age_ms: 45_000, over: { outbox_oldest_age_ms: 30_000 } }
        }
      })
      yield* Ref.set(age, 10)
      assert.strictEqual((yield* readiness.report).status, "ready")
    }).pipe(Effect.provide(Health.Readiness.layer))
  )
})
