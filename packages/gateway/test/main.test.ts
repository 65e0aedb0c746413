import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { freePort, spawnService } from "@workstream/tasks/testing"
import { Effect, Schedule } from "effect"

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url))

describe("the gateway process", () => {
  it.live("exits non-zero at once, naming every bad variable, when its configuration is incomplete", () =>
    Effect.gen(function* () {
      const service = yield* spawnService(MAIN, { HTTP_PORT: "eighty", TASKS_DEADLINE: "soon" })
      const { code, output } = yield* Effect.promise(() => service.exited)
      assert.notStrictEqual(code, 0)
      for (const name of ["TASKS_GRPC_TARGET: missing", "HTTP_PORT", "TASKS_DEADLINE"]) assert.include(output, name)
    })
  )

  it.live(
    "serves /healthz while tasks is unreachable (not ready), then on SIGTERM drains and exits 0",
    () =>
      Effect.gen(function* () {
        const httpPort = yield* freePort
        const service = yield* spawnService(MAIN, {
          TASKS_GRPC_TARGET: `127.0.0.1:${yield* freePort}`,
          HTTP_PORT: String(httpPort)
        })
        const health = yield* Effect.tryPromise(() => fetch(`http://127.0.0.1:${httpPort}/healthz`)).pipe(
          Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo({ duration: "20 seconds" })))
        )
        assert.strictEqual(health.status, 200)
        const ready = yield* Effect.promise(() => fetch(`http://127.0.0.1:${httpPort}/readyz`))
        assert.strictEqual(ready.status, 503)
        service.child.kill("SIGTERM")
        const { code } = yield* Effect.promise(() => service.exited).pipe(Effect.timeout("15 seconds"))
        assert.strictEqual(code, 0)
      }),
    40_000
  )
})
