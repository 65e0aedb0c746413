import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { MetricFamily } from "../src/index.ts"

describe("MetricFamily", () => {
  it.effect("counts each attribute set in a series of its own, whatever the order of its keys", () =>
    Effect.gen(function* () {
      const requests = MetricFamily.of((attributes: { route: string; status: string }) =>
        Metric.counter("family_test_requests_total", { description: "requests", attributes })
      )
      assert.strictEqual(requests({ route: "/a", status: "200" }), requests({ route: "/a", status: "200" }))
      yield* Metric.update(requests({ route: "/a", status: "200" }), 1)
      yield* Metric.update(requests({ status: "200", route: "/a" }), 1)
      yield* Metric.update(requests({ route: "/a", status: "500" }), 1)
      const series = (yield* Metric.snapshot)
        .filter((s) => s.id === "family_test_requests_total")
        .map((s) => ({ attributes: s.attributes, count: "count" in s.state ? s.state.count : undefined }))
        .sort((x, y) => String(x.attributes?.status).localeCompare(String(y.attributes?.status)))
      assert.deepStrictEqual(series, [
        { attributes: { route: "/a", status: "200" }, count: 2 },
        { attributes: { route: "/a", status: "500" }, count: 1 }
      ])
    })
  )
})
