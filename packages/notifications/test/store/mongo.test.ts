import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Redacted } from "effect"
import { recordsInMongo } from "../../src/index.ts"
import { contractSuite } from "./contract.ts"

const url = process.env.MONGO_URL

if (url === undefined) {
  console.log("MongoDB contract tests skipped: MONGO_URL is not set (no MongoDB server on this machine)")
  describe("MongoDB store", () => {
    it.skipIf(true)(
      "contract suite: skipped because MONGO_URL is not set, so there is no server to run it against",
      () => {}
    )
  })
} else {
  contractSuite(
    "MongoDB store",
    recordsInMongo({
      url: Redacted.make(url),
      database: `ws_test_${Date.now().toString(36)}`,
      collection: "notifications"
    })
  )
}

describe("MongoDB store without a server", () => {
  it.live("fails to start with StoreUnavailable within its timeout instead of hanging", () =>
    Effect.gen(function* () {
      const store = recordsInMongo({
        url: Redacted.make("mongodb://127.0.0.1:9/?directConnection=true"),
        database: "unreachable",
        timeout: Duration.millis(500)
      })
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(store)))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "StoreUnavailable")
    })
  )
})
