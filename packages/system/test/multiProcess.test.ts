import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { AMQP_URL, databaseOf, freshDatabase, spawnService } from "@workstream/tasks/testing"
import { Effect, Fiber, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { SERVICES } from "../src/Bundle.ts"
import { SERVICE_NODE_OPTIONS } from "../src/MultiProcess.ts"
import {
  allNotifications,
  awaitNotifications,
  awaitReady,
  bareEnvironment,
  closeAllConnections,
  completeTask,
  createTask,
  descendantRunning,
  freshVhost,
  launch,
  systemPorts
} from "./support.ts"

/** A service's TypeScript entry, as `pnpm dev` runs it: these tests are about the processes, not their bundles. */
const sourceOf = (service: string) => fileURLToPath(new URL(`../../${service}/src/main.ts`, import.meta.url))

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"
const durableStore = process.env.MONGO_URL !== undefined

/** Real servers for one test: its own database and its own RabbitMQ virtual host. */
const servers = Effect.gen(function* () {
  const { vhost, url } = yield* freshVhost(AMQP_URL)
  return {
    vhost,
    env: {
      DATABASE_URL: yield* freshDatabase,
      AMQP_URL: url,
      REDIS_URL,
      ...(durableStore
        ? { MONGO_URL: process.env.MONGO_URL ?? "", MONGO_DB: `ws_e2e_${vhost.replaceAll("-", "_")}` }
        : { NOTIFICATION_STORE: "memory" })
    }
  }
})

describe("the multi-process mode (`pnpm start` with the servers configured)", () => {
  it.live(
    "runs the three services as processes from their bundles, with bounded heaps, prefixes their logs, carries tasks to notifications, and stops all three on SIGTERM",
    () =>
      Effect.gen(function* () {
        const { env } = yield* servers
        const placed = yield* systemPorts
        const { gateway, notifications } = placed
        // An operator's own flag, which must come after the services' heap bounds to win.
        const own = "--max-old-space-size=300"
        const system = yield* launch("pnpm", ["start"], {
          ...bareEnvironment(),
          ...env,
          ...placed.env,
          NODE_OPTIONS: own
        })
        yield* awaitReady(`${gateway}/readyz`)
        yield* awaitReady(`${notifications}/readyz`)

        const task = yield* createTask(gateway, "across three processes")
        yield* completeTask(gateway, task.id)
        const records = yield* awaitNotifications(notifications, (items) => items.length >= 2)
        assert.deepStrictEqual(records.map((r) => r.event_type).sort(), [
          "workstream.task.completed.v1",
          "workstream.task.created.v1"
        ])
        for (const service of SERVICES) {
          assert.match(system.output(), new RegExp(`^\\[${service}\\]\\s+\\{`, "m"), `${service}'s lines are prefixed`)
          const pid = descendantRunning(system.child.pid ?? -1, `packages/${service}/dist/main.mjs`)
          const environment = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")
          assert.isTrue(
            environment.includes(`NODE_OPTIONS=${SERVICE_NODE_OPTIONS[service]} ${own}`),
            `${service} runs with the heap bounds, then the operator's flags`
          )
        }

        const launcher = descendantRunning(system.child.pid ?? -1, "packages/system/src/start.ts")
        assert.isDefined(launcher)
        process.kill(launcher ?? -1, "SIGTERM")
        const exit = yield* Effect.promise(() => system.exited).pipe(Effect.timeout("30 seconds"))
        assert.deepStrictEqual(exit, { code: 0, signal: null }, system.output().slice(-2000))
      }),
    90_000
  )

  it.live(
    "loses and duplicates nothing when the tasks process is killed -9 (with MONGO_URL set, the notifications process too) and every broker connection is cut mid-stream: every outbox event recorded exactly once",
    () =>
      Effect.gen(function* () {
        const { env, vhost } = yield* servers
        const { ports, gateway, notifications } = yield* systemPorts
        const common = { ...env, LOG_LEVEL: "Warn" }
        const tasksEnv = { ...common, GRPC_PORT: String(ports.tasksGrpc), HTTP_PORT: String(ports.tasksHttp) }
        const startTasks = spawnService(sourceOf("tasks"), tasksEnv)
        const firstTasks = yield* startTasks
        const startNotifications = spawnService(sourceOf("notifications"), {
          ...common,
          HTTP_PORT: String(ports.notifications)
        })
        const firstNotifications = yield* startNotifications
        yield* spawnService(sourceOf("gateway"), {
          ...common,
          HTTP_PORT: String(ports.gateway),
          TASKS_GRPC_TARGET: `127.0.0.1:${ports.tasksGrpc}`
        })
        yield* awaitReady(`${gateway}/readyz`)
        yield* awaitReady(`${notifications}/readyz`)

        // A steady stream of creates and completes; calls that fail while tasks is down are just lost calls.
        const load = yield* Effect.forEach(
          Array.from({ length: 120 }, (_, n) => n),
          (n) =>
            createTask(gateway, `ledger ${n}`).pipe(
              Effect.flatMap((task) => (n % 3 === 0 ? completeTask(gateway, task.id) : Effect.void)),
              Effect.ignore
            ),
          { concurrency: 4 }
        ).pipe(Effect.forkScoped)

        yield* Effect.sleep("700 millis")
        firstTasks.child.kill("SIGKILL")
        yield* Effect.promise(() => firstTasks.exited)
        yield* startTasks
        yield* Effect.sleep("700 millis")
        yield* closeAllConnections(vhost)
        // Records in memory die with their process: only a durable store lets notifications be killed too.
        if (durableStore) {
          yield* Effect.sleep("300 millis")
          firstNotifications.child.kill("SIGKILL")
          yield* Effect.promise(() => firstNotifications.exited)
          yield* startNotifications
          yield* awaitReady(`${notifications}/readyz`)
        }
        yield* Fiber.join(load)

        // The ledger: every event the outbox holds, and every record the notifications service keeps.
        const outboxIds = yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const waiting = yield* sql<{ n: string }>`SELECT count(*)::text AS n FROM outbox WHERE published_at IS NULL`
          if (waiting[0]?.n !== "0") return yield* Effect.fail(`${waiting[0]?.n} events not yet published`)
          return (yield* sql<{ event_id: string }>`SELECT event_id::text AS event_id FROM outbox`).map(
            (r) => r.event_id
          )
        }).pipe(
          Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo({ duration: "60 seconds" }))),
          Effect.provide(databaseOf(env.DATABASE_URL))
        )
        assert.isAbove(outboxIds.length, 20, "the load went through, at least in part")
        yield* awaitNotifications(notifications, (items) => items.length >= outboxIds.length).pipe(
          Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo({ duration: "60 seconds" })))
        )
        yield* Effect.sleep("500 millis")
        const recorded = (yield* allNotifications(notifications)).map((r) => r.event_id)
        const expected = new Set(outboxIds)
        const missing = outboxIds.filter((id) => !recorded.includes(id))
        const duplicated = recorded.filter((id, i) => recorded.indexOf(id) !== i)
        const unknown = recorded.filter((id) => !expected.has(id))
        assert.deepStrictEqual({ missing, duplicated, unknown }, { missing: [], duplicated: [], unknown: [] })
      }),
    150_000
  )
})
