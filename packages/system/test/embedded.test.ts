import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as Embedded from "../src/Embedded.ts"
import {
  awaitNotifications,
  awaitReady,
  bareEnvironment,
  completeTask,
  createTask,
  descendantRunning,
  launch,
  systemPorts
} from "./support.ts"

describe("the embedded mode (`pnpm start` with no server configured)", () => {
  it.live(
    "runs the whole system in one process: tasks made over REST show up as one notification per event, and SIGTERM stops it with exit 0",
    () =>
      Effect.gen(function* () {
        const { env, gateway, notifications } = yield* systemPorts
        const system = yield* launch("pnpm", ["start"], { ...bareEnvironment(), ...env, LOG_LEVEL: "Warn" })
        yield* awaitReady(`${gateway}/readyz`)
        assert.include(system.output(), "Ready in", "it says when it is ready")
        assert.include(system.output(), `curl -s -X POST ${gateway}/api/v1/tasks`, "it prints a curl line to try")

        const tasks = yield* Effect.forEach([1, 2, 3, 4, 5], (n) => createTask(gateway, `embedded ${n}`), {
          concurrency: 5
        })
        const completed = yield* Effect.forEach(tasks.slice(0, 2), (task) => completeTask(gateway, task.id))
        assert.deepStrictEqual(
          completed.map((task) => task.status),
          ["COMPLETED", "COMPLETED"]
        )

        const expected = tasks.length + completed.length
        const records = yield* awaitNotifications(notifications, (items) => items.length >= expected)
        // A moment more, so a duplicate would have time to show.
        yield* Effect.sleep("300 millis")
        const settled = yield* awaitNotifications(notifications, () => true)
        assert.strictEqual(settled.length, expected, "one record per event, no more")
        assert.strictEqual(new Set(records.map((r) => r.event_id)).size, expected, "distinct event ids")
        for (const task of tasks) {
          const types = settled.filter((r) => r.task_id === task.id).map((r) => r.event_type)
          const done = completed.some((c) => c.id === task.id)
          assert.deepStrictEqual(
            types.sort(),
            done ? ["workstream.task.completed.v1", "workstream.task.created.v1"] : ["workstream.task.created.v1"]
          )
        }

        const pid = descendantRunning(system.child.pid ?? -1, "packages/system/src/start.ts")
        assert.isDefined(pid, "the system process runs under pnpm")
        process.kill(pid ?? -1, "SIGTERM")
        const exit = yield* Effect.promise(() => system.exited).pipe(Effect.timeout("20 seconds"))
        assert.deepStrictEqual(exit, { code: 0, signal: null })
      }),
    90_000
  )

  it.live(
    "refuses a bad configuration before starting anything, naming every bad variable of every part in one message",
    () =>
      Effect.gen(function* () {
        const { env } = yield* systemPorts
        const system = yield* launch("pnpm", ["start"], {
          ...bareEnvironment(),
          ...env,
          EMBEDDED_POSTGRES_PORT: "not-a-port", // pnpm start's own
          RELAY_BATCH_SIZE: "0", // tasks'
          DEDUPE_TTL: "soon", // notifications'
          TASKS_RETRIES: "-1", // the gateway's
          OTEL_EXPORTER_OTLP_ENDPOINT: "collector", // the trace export's
          LOG_LEVEL: "loud" // every part's
        })
        const exit = yield* Effect.promise(() => system.exited).pipe(Effect.timeout("30 seconds"))
        assert.deepStrictEqual(exit, { code: 1, signal: null }, system.output())
        const messages = system.output().match(/invalid configuration: .*/g) ?? []
        assert.lengthOf(messages, 1, system.output())
        for (const name of [
          "EMBEDDED_POSTGRES_PORT",
          "RELAY_BATCH_SIZE",
          "DEDUPE_TTL",
          "TASKS_RETRIES",
          "OTEL_EXPORTER_OTLP_ENDPOINT"
        ]) {
          assert.include(messages[0], `${name}:`)
        }
        assert.lengthOf(messages[0]?.match(/LOG_LEVEL:/g) ?? [], 1, "a variable every part reads is named once")
        assert.notInclude(system.output(), "Ready in")
      }),
    60_000
  )

  it.effect("reads every part's settings from the current configuration, the embedded placement set over it", () =>
    Effect.gen(function* () {
      const withEnv = (env: Record<string, string>) =>
        Effect.provideService(Embedded.load, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
      const settings = yield* withEnv({ RELAY_BATCH_SIZE: "7", LOG_LEVEL: "Warn", HTTP_PORT: "1234" })
      assert.strictEqual(settings.tasks.relayBatchSize, 7)
      assert.strictEqual(settings.tasks.logLevel, "Warn")
      assert.strictEqual(settings.notifications.logLevel, "Warn")
      // A service's own HTTP_PORT would clash in one process: the embedded placement wins.
      assert.strictEqual(settings.gateway.httpPort, settings.system.gatewayPort)
      assert.strictEqual(settings.tasks.httpPort, settings.system.tasksHttpPort)
      const refused = yield* Effect.flip(withEnv({ RELAY_BATCH_SIZE: "0" }))
      assert.include(refused.message, "RELAY_BATCH_SIZE")
    })
  )
})
