import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { AMQP_URL, freePort, freshDatabase, spawnService } from "../support/harness.ts"

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url))

describe("the tasks process", () => {
  it.live(
    "exits non-zero at once, naming every missing or malformed variable in one message, the trace export's too",
    () =>
      Effect.gen(function* () {
        const service = yield* spawnService(MAIN, {
          GRPC_PORT: "not-a-port",
          OTEL_EXPORTER_OTLP_ENDPOINT: "otel-collector:4318"
        })
        const { code, output } = yield* Effect.promise(() => service.exited)
        assert.notStrictEqual(code, 0)
        const messages = output.match(/invalid configuration: [^"]*/g) ?? []
        assert.lengthOf(messages, 1, output)
        for (const name of ["DATABASE_URL: missing", "AMQP_URL: missing", "GRPC_PORT", "OTEL_EXPORTER_OTLP_ENDPOINT"])
          assert.include(messages[0], name)
      })
  )

  it.live(
    "becomes ready, then on SIGTERM drains and exits 0",
    () =>
      Effect.gen(function* () {
        const httpPort = yield* freePort
        const service = yield* spawnService(MAIN, {
          DATABASE_URL: yield* freshDatabase,
          AMQP_URL,
          GRPC_PORT: String(yield* freePort),
          HTTP_PORT: String(httpPort)
        })
        yield* Effect.tryPromise(() => fetch(`http://127.0.0.1:${httpPort}/readyz`)).pipe(
          Effect.filterOrFail((response) => response.status === 200),
          Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo({ duration: "20 seconds" })))
        )
        assert.include(service.output(), '"service":"tasks"')
        service.child.kill("SIGTERM")
        const { code } = yield* Effect.promise(() => service.exited).pipe(Effect.timeout("15 seconds"))
        assert.strictEqual(code, 0)
      }),
    40_000
  )
})
