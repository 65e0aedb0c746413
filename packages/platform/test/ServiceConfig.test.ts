import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Duration, Effect, Exit } from "effect"
import { ServiceConfig } from "../src/index.ts"

const settings = {
  databaseUrl: Config.Redacted("DATABASE_URL"),
  amqpUrl: Config.Redacted("AMQP_URL"),
  grpcPort: ServiceConfig.port("GRPC_PORT", 50051),
  httpPort: ServiceConfig.port("HTTP_PORT", 8081)
}
const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

describe("ServiceConfig.load", () => {
  it.effect("takes LOG_LEVEL in any case and refuses an unknown level, naming the choices", () =>
    Effect.gen(function* () {
      const levels = { logLevel: ServiceConfig.logLevel }
      for (const [written, meant] of [
        ["debug", "Debug"],
        ["WARN", "Warn"],
        ["Info", "Info"]
      ] as const) {
        assert.strictEqual((yield* ServiceConfig.load(levels).pipe(withEnv({ LOG_LEVEL: written }))).logLevel, meant)
      }
      assert.strictEqual((yield* ServiceConfig.load(levels).pipe(withEnv({}))).logLevel, "Info")
      const exit = yield* Effect.exit(ServiceConfig.load(levels).pipe(withEnv({ LOG_LEVEL: "loud" })))
      assert.include(Exit.isFailure(exit) ? String(exit.cause) : "", "LOG_LEVEL: expected one of")
    })
  )

  it.effect("names every missing or malformed variable in one error, not just the first", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(ServiceConfig.load(settings).pipe(withEnv({ GRPC_PORT: "not-a-port" })))
      assert.isTrue(Exit.isFailure(exit))
      const message = Exit.isFailure(exit) ? String(exit.cause) : ""
      for (const line of ["DATABASE_URL: missing", "AMQP_URL: missing", "GRPC_PORT: expected"])
        assert.include(message, line)
      assert.notInclude(message, "HTTP_PORT")
      assert.notInclude(message, "not-a-port")
    })
  )

  it.effect("applies defaults and keeps secrets redacted", () =>
    Effect.gen(function* () {
      const config = yield* ServiceConfig.load(settings).pipe(
        withEnv({ DATABASE_URL: "postgres://u:secret@db/x", AMQP_URL: "amqp://guest:guest@mq" })
      )
      assert.strictEqual(config.grpcPort, 50051)
      assert.notInclude(String(config.databaseUrl), "secret")
    })
  )

  it.effect("refuses a batch size of 0 and a zero duration, naming both", () =>
    Effect.gen(function* () {
      const load = ServiceConfig.load({
        batch: ServiceConfig.intAtLeast("RELAY_BATCH_SIZE", 1, 100),
        poll: ServiceConfig.positiveDuration("RELAY_POLL_INTERVAL", Duration.seconds(1))
      })
      const exit = yield* Effect.exit(load.pipe(withEnv({ RELAY_BATCH_SIZE: "0", RELAY_POLL_INTERVAL: "0 millis" })))
      const message = Exit.isFailure(exit) ? String(exit.cause) : ""
      assert.include(message, "RELAY_BATCH_SIZE")
      assert.include(message, "RELAY_POLL_INTERVAL")
      const defaults = yield* load.pipe(withEnv({}))
      assert.strictEqual(defaults.batch, 100)
    })
  )

  it.effect(
    "all: several groups read in one pass, their values in order, or one error naming each bad variable once",
    () =>
      Effect.gen(function* () {
        const levels = ServiceConfig.load({ logLevel: ServiceConfig.logLevel })
        const ports = ServiceConfig.load({ grpcPort: ServiceConfig.port("GRPC_PORT", 50051) })
        const [level, port] = yield* ServiceConfig.all([levels, ports, levels]).pipe(withEnv({ LOG_LEVEL: "warn" }))
        assert.deepStrictEqual([level.logLevel, port.grpcPort], ["Warn", 50051])

        const error = yield* Effect.flip(
          ServiceConfig.all([levels, ports, levels]).pipe(withEnv({ LOG_LEVEL: "loud", GRPC_PORT: "x" }))
        )
        assert.lengthOf(error.problems, 2)
        assert.include(error.message, "LOG_LEVEL: expected one of")
        assert.include(error.message, "GRPC_PORT: expected")
      })
  )

  it.effect("intBetween: refuses a number above its maximum, naming the variable", () =>
    Effect.gen(function* () {
      const load = ServiceConfig.load({ batch: ServiceConfig.intBetween("RELAY_BATCH_SIZE", 1, 10_000, 1000) })
      assert.strictEqual((yield* load.pipe(withEnv({}))).batch, 1000)
      assert.strictEqual((yield* load.pipe(withEnv({ RELAY_BATCH_SIZE: "10000" }))).batch, 10_000)
      const error = yield* Effect.flip(load.pipe(withEnv({ RELAY_BATCH_SIZE: "50000" })))
      assert.include(error.message, "RELAY_BATCH_SIZE: expected a value less than or equal to 10000")
    })
  )
})
