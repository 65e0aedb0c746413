import { assert, describe, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as Proto from "@workstream/proto"
import { freePort, freshDatabase, freshTopology, settingsFor, startTasks } from "@workstream/tasks/testing"
import { Duration, Effect, Schedule } from "effect"
import { gatewaySettings, postJson, request, startGateway } from "./support/gateway.ts"
import { stubServer } from "./support/stubServer.ts"

const PROBLEM = "application/problem+json"

/** A tasks service that refuses every create with RESOURCE_EXHAUSTED (calling `onCreate` with its metadata) and lists nothing. */
const overloadedTasks = (onCreate: (metadata: grpc.Metadata) => void) => {
  const createTask: Proto.TasksServiceServer["createTask"] = (call, callback) => {
    onCreate(call.metadata)
    callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: "too many creates waiting" })
  }
  const listTasks: Proto.TasksServiceServer["listTasks"] = (_call, callback) =>
    callback(null, { tasks: [], next_page_token: "" })
  return stubServer(Proto.TasksServiceService, { createTask, listTasks })
}

describe("the gateway when the tasks service is down, slow or shedding load", () => {
  it.live(
    "answers 503 problem+json, refuses without calling tasks while the circuit is open, and recovers by itself when tasks is back",
    () =>
      Effect.gen(function* () {
        const grpcPort = yield* freePort
        const url = yield* startGateway(
          yield* gatewaySettings(`127.0.0.1:${grpcPort}`, {
            breakerThreshold: 3,
            // Long enough that the two calls below both meet the open circuit, not a trial.
            breakerCooldown: Duration.seconds(5),
            tasksDeadline: Duration.seconds(2)
          })
        )
        const list = request(`${url}/api/v1/tasks`)

        // Nothing listens: every call is UNAVAILABLE, retried a little, then 503.
        for (let i = 0; i < 3; i++) {
          const reply = yield* list
          assert.strictEqual(reply.status, 503)
          assert.strictEqual(reply.headers.get("content-type"), PROBLEM)
        }
        // The circuit is open now: the gateway answers by itself, without calling tasks.
        for (const reply of [yield* list, yield* postJson(`${url}/api/v1/tasks`, { title: "Refused" })]) {
          assert.strictEqual(reply.status, 503)
          assert.deepInclude(reply.json, { detail: "the tasks service is failing; retry later" })
        }
        assert.strictEqual((yield* request(`${url}/readyz`)).status, 503)

        // Tasks comes up on the port the gateway was given: requests succeed again, no restart.
        const databaseUrl = yield* freshDatabase
        const topology = yield* freshTopology
        yield* startTasks({ ...(yield* settingsFor(databaseUrl)), grpcPort }, topology)
        const recovered = yield* list.pipe(
          Effect.filterOrFail((reply) => reply.status === 200),
          Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo({ duration: "15 seconds" })))
        )
        assert.strictEqual(recovered.status, 200)
        const created = yield* postJson(`${url}/api/v1/tasks`, { title: "After the outage" })
        assert.strictEqual(created.status, 201)
      }),
    40_000
  )

  it.live(
    "answers 503 problem+json at once when tasks sheds load (RESOURCE_EXHAUSTED): no retry, and the circuit stays closed",
    () =>
      Effect.gen(function* () {
        let creates = 0
        const grpcPort = yield* overloadedTasks(() => creates++)
        const url = yield* startGateway(
          yield* gatewaySettings(`127.0.0.1:${grpcPort}`, { breakerThreshold: 3, tasksRetries: 3 })
        )
        for (let i = 0; i < 5; i++) {
          const reply = yield* postJson(`${url}/api/v1/tasks`, { title: "Shed" })
          assert.strictEqual(reply.status, 503)
          assert.strictEqual(reply.headers.get("content-type"), PROBLEM)
          assert.include(reply.text, "overloaded")
        }
        assert.strictEqual(creates, 5, "each create was tried once: a service shedding load is not retried")
        assert.strictEqual((yield* request(`${url}/api/v1/tasks`)).status, 200, "reads still pass: no open circuit")
      }),
    30_000
  )

  it.live("a call to tasks leaves the process's stack traces as it found them, failed or not", () =>
    Effect.gen(function* () {
      const grpcPort = yield* overloadedTasks(() => undefined)
      const url = yield* startGateway(yield* gatewaySettings(`127.0.0.1:${grpcPort}`))
      const limit = Error.stackTraceLimit
      assert.strictEqual((yield* postJson(`${url}/api/v1/tasks`, { title: "Shed" })).status, 503)
      assert.strictEqual((yield* request(`${url}/api/v1/tasks`)).status, 200)
      assert.strictEqual(Error.stackTraceLimit, limit)
      assert.isAbove(new Error("after").stack?.split("\n").length ?? 0, 1, "errors still carry a stack")
    })
  )

  it.live(
    "answers 504 problem+json when the tasks service does not answer within the deadline",
    () =>
      Effect.gen(function* () {
        const databaseUrl = yield* freshDatabase
        const topology = yield* freshTopology
        const tasks = yield* startTasks(yield* settingsFor(databaseUrl), topology)
        const url = yield* startGateway(
          yield* gatewaySettings(`127.0.0.1:${tasks.settings.grpcPort}`, { tasksDeadline: Duration.millis(1) })
        )
        const reply = yield* request(`${url}/api/v1/tasks`)
        assert.strictEqual(reply.status, 504)
        assert.strictEqual(reply.headers.get("content-type"), PROBLEM)
      }),
    30_000
  )
})

describe("the gateway's correlation ids", () => {
  it.live("the X-Request-Id a client is answered with is the one its call to tasks carries, given or generated", () =>
    Effect.gen(function* () {
      const sent: Array<string> = []
      const port = yield* overloadedTasks((metadata) => sent.push(String(metadata.get("x-request-id")[0])))
      const url = yield* startGateway(yield* gatewaySettings(`127.0.0.1:${port}`))
      const given = yield* postJson(`${url}/api/v1/tasks`, { title: "Correlated" }, { "x-request-id": "req-given" })
      const generated = yield* postJson(`${url}/api/v1/tasks`, { title: "Correlated" })
      assert.deepStrictEqual(sent, ["req-given", generated.headers.get("x-request-id")])
      assert.strictEqual(given.headers.get("x-request-id"), "req-given")
    }).pipe(Effect.scoped)
  )
})
