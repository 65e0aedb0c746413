import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Exit } from "effect"
import { ServiceConfig } from "../src/index.ts"

const settings = {
  databaseUrl: Config.Redacted("DATABASE_URL"),
  amqpUrl: Config.Redacted("AMQP_URL"),
  grpcPort: ServiceConfig.port("GRPC_PORT", 50051),
  httpPort: ServiceConfig.port("HTTP_PORT", 8081)
}
const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

describe("ServiceConfig.load", () => {
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
})
