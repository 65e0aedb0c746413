import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit } from "effect"
import { DEFAULT_MEMORY_LIMIT } from "../src/index.ts"
import * as NotificationsConfig from "../src/NotificationsConfig.ts"

const load = (env: Record<string, string>) =>
  NotificationsConfig.load.pipe(
    Effect.provideService(
      ConfigProvider.ConfigProvider,
      ConfigProvider.fromEnv({
        env: { AMQP_URL: "amqp://broker", REDIS_URL: "redis://cache", NOTIFICATION_STORE: "memory", ...env }
      })
    )
  )

describe("NotificationsConfig: NOTIFICATION_MEMORY_LIMIT", () => {
  it.effect("keeps 10,000 records by default, or as many as it says", () =>
    Effect.gen(function* () {
      assert.strictEqual((yield* load({})).memoryLimit, DEFAULT_MEMORY_LIMIT)
      assert.strictEqual(DEFAULT_MEMORY_LIMIT, 10_000)
      assert.strictEqual((yield* load({ NOTIFICATION_MEMORY_LIMIT: "250" })).memoryLimit, 250)
    })
  )

  it.effect("refuses a limit under one, naming the variable", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(load({ NOTIFICATION_MEMORY_LIMIT: "0" }))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "NOTIFICATION_MEMORY_LIMIT")
    })
  )
})
