/** The one table from failures to gRPC status codes: the contract the gateway's retries and circuit read. */
import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import { InvalidTransition, type TaskId, TaskNotFound, ValidationError } from "@workstream/domain"
import { IdempotencyKeyReused, InvalidPageToken, Overloaded, StoreUnavailable } from "../../src/errors.ts"
import { type ServiceError, toGrpcFailure } from "../../src/grpc/errorStatus.ts"

const TASK_ID = "01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90" as TaskId

describe("toGrpcFailure", () => {
  it("gives each failure its standard code, and the store's trouble no internal detail", () => {
    const cases: ReadonlyArray<[ServiceError, status]> = [
      [new ValidationError({ problems: [{ path: "title", message: "is empty" }] }), status.INVALID_ARGUMENT],
      [new InvalidPageToken({}), status.INVALID_ARGUMENT],
      [new TaskNotFound({ task_id: TASK_ID }), status.NOT_FOUND],
      [new InvalidTransition({ task_id: TASK_ID, from: "COMPLETED", command: "start" }), status.FAILED_PRECONDITION],
      [new IdempotencyKeyReused({ key: "k" }), status.ALREADY_EXISTS],
      [
        new StoreUnavailable({ operation: "create", cause: new Error("connection refused by 10.0.0.5") }),
        status.UNAVAILABLE
      ],
      [new Overloaded({}), status.RESOURCE_EXHAUSTED]
    ]
    for (const [error, code] of cases) assert.strictEqual(toGrpcFailure(error).code, code, error._tag)
    assert.notInclude(
      toGrpcFailure(new StoreUnavailable({ operation: "create", cause: new Error("connection refused by 10.0.0.5") }))
        .details,
      "10.0.0.5"
    )
  })
})
