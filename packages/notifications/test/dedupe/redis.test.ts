import { randomBytes } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Redacted } from "effect"
import { dedupeInRedis } from "../../src/index.ts"
import { contractSuite, TTL } from "./contract.ts"

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

// Keys of their own, so runs never see each other's; they expire by themselves within a second.
contractSuite(
  "Redis dedupe",
  dedupeInRedis({ url: Redacted.make(REDIS_URL), ttl: TTL, prefix: `test:${randomBytes(5).toString("hex")}:` }),
  (duration) => Effect.sleep(duration),
  { live: true }
)

describe("Redis dedupe without a server", () => {
  it.live("fails with DedupeUnavailable within its timeout instead of hanging", () =>
    Effect.gen(function* () {
      const store = dedupeInRedis({
        url: Redacted.make("redis://127.0.0.1:9"),
        ttl: TTL,
        timeout: Duration.millis(500)
      })
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(store)))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "DedupeUnavailable")
    })
  )
})
