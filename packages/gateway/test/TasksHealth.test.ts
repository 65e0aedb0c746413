import { assert, describe, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import { Health } from "@workstream/proto"
import { freePort } from "@workstream/tasks/testing"
import { Duration, Effect } from "effect"
import * as TasksHealth from "../src/grpc/TasksHealth.ts"
import { stubServer } from "./support/stubServer.ts"

const { NOT_SERVING, SERVING } = Health.HealthCheckResponse_ServingStatus

/** A grpc.health.v1 server answering `status` for the tasks service; its port. */
const healthServer = (status: Health.HealthCheckResponse_ServingStatus) => {
  const check: Health.HealthServer["check"] = (call, callback) =>
    call.request.service === "workstream.tasks.v1.TasksService"
      ? callback(null, { status })
      : callback({ code: grpc.status.NOT_FOUND, details: "unknown service" })
  return stubServer(Health.HealthService, { check })
}

const checkAt = (port: number) =>
  Effect.flatten(TasksHealth.make(`127.0.0.1:${port}`, Duration.seconds(2))).pipe(Effect.flip, Effect.option)

describe("TasksHealth: the gateway's readiness check of the tasks service", () => {
  it.live("passes while tasks says SERVING", () =>
    Effect.gen(function* () {
      const failure = yield* checkAt(yield* healthServer(SERVING))
      assert.isTrue(failure._tag === "None", "no failure")
    })
  )

  it.live("fails with the status tasks answered, by name, while it is not serving", () =>
    Effect.gen(function* () {
      const failure = yield* checkAt(yield* healthServer(NOT_SERVING))
      assert.deepStrictEqual(
        failure._tag === "Some" ? { tag: failure.value._tag, status: failure.value.status } : undefined,
        { tag: "TasksNotServing", status: "NOT_SERVING" }
      )
    })
  )

  it.live("fails with the call's status when nothing answers", () =>
    Effect.gen(function* () {
      const failure = yield* checkAt(yield* freePort)
      assert.strictEqual(failure._tag === "Some" ? failure.value.status : undefined, "UNAVAILABLE")
    })
  )
})
