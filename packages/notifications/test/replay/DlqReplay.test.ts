import { assert, describe, it } from "@effect/vitest"
import { Topology } from "@workstream/platform"
import { silentServer } from "@workstream/platform/testing"
import { Effect } from "effect"
import { replay } from "../../src/replay/DlqReplay.ts"

describe("dlq:replay", () => {
  it.live("gives up with a clear error, instead of hanging, when the broker does not answer", () =>
    Effect.gen(function* () {
      const broker = yield* silentServer
      const error = yield* Effect.flip(
        replay({
          amqpUrl: `amqp://guest:guest@127.0.0.1:${broker.port}`,
          topology: Topology.make(),
          dryRun: true,
          timeout: "300 millis"
        })
      )
      assert.include(error.reason, "did not answer in time")
    })
  )
})
