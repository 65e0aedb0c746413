import { assert, describe, it } from "@effect/vitest"
import { TraceContext } from "../src/index.ts"

describe("TraceContext", () => {
  it("continues a valid traceparent and keeps its trace id", () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    const active = TraceContext.continueOrStart({ traceparent, tracestate: "k=v" })
    assert.deepStrictEqual(active, { trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", traceparent, tracestate: "k=v" })
  })

  it("starts a new trace when the incoming one is missing or malformed", () => {
    for (const traceparent of [undefined, "garbage", `00-${"0".repeat(32)}-00f067aa0ba902b7-01`]) {
      const active = TraceContext.continueOrStart(traceparent === undefined ? {} : { traceparent })
      assert.match(active.trace_id, /^[0-9a-f]{32}$/)
      assert.strictEqual(TraceContext.traceIdOf(active.traceparent), active.trace_id)
    }
  })
})
