import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import type * as grpc from "@grpc/grpc-js"
import {
  freePort,
  freshDatabase,
  freshTopology,
  settingsFor,
  spawnService,
  startTasks
} from "@workstream/tasks/testing"
import { Effect, Schedule } from "effect"
import { AMQP_URL, json, REDIS_URL, startNotifications } from "./support.ts"

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url))

interface Page {
  readonly items: ReadonlyArray<{ readonly event_id: string; readonly event_type: string; readonly task_id: string }>
  readonly next_cursor: string | null
}

describe("the notifications service", () => {
  it.live(
    "end to end: task changes made over gRPC reach the debug API, one record per event, filtered and paged",
    () =>
      Effect.gen(function* () {
        const topology = yield* freshTopology
        const tasks = yield* startTasks(yield* settingsFor(yield* freshDatabase), topology)
        const settings = yield* startNotifications(topology)
        const base = `http://127.0.0.1:${settings.httpPort}/api/v1/notifications`
        const call = <Res>(method: "createTask" | "completeTask", request: object) =>
          Effect.callback<Res, grpc.ServiceError>((resume) => {
            ;(
              tasks.client[method] as unknown as (r: object, cb: (e: grpc.ServiceError | null, r: Res) => void) => void
            ).call(tasks.client, request, (error, response) =>
              resume(error ? Effect.fail(error) : Effect.succeed(response))
            )
          })
        const ids: Array<string> = []
        for (let i = 0; i < 3; i++) {
          const { task } = yield* call<{ task?: { id: string } }>("createTask", {
            title: `T${i}`,
            priority: 0,
            idempotency_key: ""
          })
          ids.push(task?.id ?? "")
          yield* call("completeTask", { id: task?.id })
        }
        // Six events: wait until all are recorded, then check there is nothing more.
        const all = yield* json(`${base}?limit=100`).pipe(
          Effect.map((r) => r.body as Page),
          Effect.filterOrFail((page) => page.items.length >= 6),
          Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: "15 seconds" })))
        )
        assert.strictEqual(all.items.length, 6)
        assert.strictEqual(new Set(all.items.map((r) => r.event_id)).size, 6)

        const ofTask = (yield* json(`${base}?task_id=${ids[1]}`)).body as Page
        assert.deepStrictEqual(
          ofTask.items.map((r) => r.event_type),
          ["workstream.task.created.v1", "workstream.task.completed.v1"]
        )
        const completed = (yield* json(`${base}?event_type=workstream.task.completed.v1`)).body as Page
        assert.strictEqual(completed.items.length, 3)

        const first = (yield* json(`${base}?limit=4`)).body as Page
        assert.strictEqual(first.items.length, 4)
        const second = (yield* json(`${base}?limit=4&cursor=${first.next_cursor}`)).body as Page
        assert.strictEqual(second.next_cursor, null)
        assert.deepStrictEqual(
          [...first.items, ...second.items].map((r) => r.event_id),
          all.items.map((r) => r.event_id)
        )

        const one = yield* json(`${base}/${all.items[0]?.event_id}`)
        assert.strictEqual(one.status, 200)
        for (const bad of [
          "?task_id=nope",
          "?event_type=workstream.task.deleted.v1",
          "?limit=0",
          "?cursor=%24gt",
          "/not-a-uuid"
        ]) {
          const reply = yield* json(`${base}${bad}`)
          assert.strictEqual(reply.status, 400, bad)
          assert.strictEqual(reply.type, "application/problem+json", bad)
        }
        const deadLetters = yield* json(`http://127.0.0.1:${settings.httpPort}/api/v1/dead-letters?limit=5`)
        assert.strictEqual(deadLetters.status, 200)
        assert.deepStrictEqual(deadLetters.body, { items: [], next_cursor: null })
        const badCursor = yield* json(`http://127.0.0.1:${settings.httpPort}/api/v1/dead-letters?cursor=%7B%24gt%7D`)
        assert.strictEqual(badCursor.status, 400)
        for (const [path, status] of [
          ["/api/v2/nothing", 404],
          ["/api/v1/notifications?x=1", 200]
        ] as const) {
          const reply = yield* json(`http://127.0.0.1:${settings.httpPort}${path}`)
          assert.strictEqual(reply.status, status, path)
        }
        const wrongMethod = yield* Effect.tryPromise(() => fetch(base, { method: "DELETE" }))
        assert.strictEqual(wrongMethod.status, 405)
        assert.strictEqual(wrongMethod.headers.get("content-type"), "application/problem+json")
        assert.strictEqual(wrongMethod.headers.get("allow"), "GET")
        const missing = yield* json(`${base}/01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90`)
        assert.strictEqual(missing.status, 404)
        const metrics = yield* Effect.tryPromise(() =>
          fetch(`http://127.0.0.1:${settings.httpPort}/metrics`).then((r) => r.text())
        )
        assert.match(metrics, /notifications_events_consumed_total\{[^}]*outcome="recorded"[^}]*\} 6/)
        assert.include(metrics, "notifications_processing_seconds")
        assert.include(metrics, "notifications_in_flight")
        const ready = yield* json(`http://127.0.0.1:${settings.httpPort}/readyz`)
        assert.deepStrictEqual(ready.body, {
          status: "ready",
          dependencies: {
            rabbitmq: { status: "up", queue_depth: 0, dlq_depth: 0 },
            redis: { status: "up" },
            store: { status: "up" }
          }
        })
      }),
    60_000
  )

  it.live("the process refuses to start without a store it can keep records in, naming the variables", () =>
    Effect.gen(function* () {
      const service = yield* spawnService(MAIN, { AMQP_URL, REDIS_URL })
      const { code, output } = yield* Effect.promise(() => service.exited)
      assert.notStrictEqual(code, 0)
      assert.include(output, "MONGO_URL: missing")
    })
  )

  it.live(
    "the process with the explicit in-memory store warns that records are not durable, and exits 0 on SIGTERM",
    () =>
      Effect.gen(function* () {
        const httpPort = yield* freePort
        const service = yield* spawnService(MAIN, {
          AMQP_URL,
          REDIS_URL,
          NOTIFICATION_STORE: "memory",
          HTTP_PORT: String(httpPort)
        })
        yield* json(`http://127.0.0.1:${httpPort}/healthz`).pipe(
          Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo({ duration: "20 seconds" })))
        )
        assert.include(service.output(), "records live in this process only")
        service.child.kill("SIGTERM")
        const { code } = yield* Effect.promise(() => service.exited).pipe(Effect.timeout("15 seconds"))
        assert.strictEqual(code, 0)
      }),
    40_000
  )
})
