import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { Logging } from "../src/index.ts"

describe("Logging.jsonLogger", () => {
  it.effect(
    "writes one JSON object per line with service, level, msg and annotations; errors keep their message; nothing unserialisable throws",
    () =>
      Effect.gen(function* () {
        const lines: Array<string> = []
        const capture = Logger.map(Logging.formatJson("tasks"), (line) => {
          lines.push(line)
        })
        const circular: Record<string, unknown> = {}
        circular.self = circular
        yield* Effect.logWarning("publishing failed", new Error("boom"), 10n, circular).pipe(
          Effect.annotateLogs({ request_id: "r-1" }),
          Effect.provide(Logger.layer([capture]))
        )
        const line = JSON.parse(lines[0] ?? "{}")
        assert.strictEqual(line.service, "tasks")
        assert.strictEqual(line.level, "warn")
        assert.strictEqual(line.request_id, "r-1")
        assert.include(line.msg, "Error: boom")
        assert.include(line.msg, "10")
      })
  )
})
