import { assert, describe, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import {
  GetTaskResponse,
  type Task,
  TaskPriority,
  TaskStatus,
  TasksServiceClient,
  type TasksServiceServer,
  TasksServiceService
} from "../src/index.ts"

const task: Task = {
  id: "01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90",
  title: "Ship it",
  description: "with care",
  status: TaskStatus.TASK_STATUS_COMPLETED,
  priority: TaskPriority.TASK_PRIORITY_URGENT,
  due_at: new Date("2026-12-01T00:00:00.000Z"),
  created_at: new Date("2026-11-22T10:00:00.123Z"),
  updated_at: new Date("2026-11-22T10:05:00.456Z"),
  completed_at: new Date("2026-11-22T10:05:00.456Z"),
  version: 3,
  assignee: undefined
}

describe("generated TasksService stubs", () => {
  it("encode -> decode keeps every field, timestamps to the millisecond and absent optionals absent", () => {
    const bytes = GetTaskResponse.encode({ task }).finish()
    assert.deepStrictEqual(GetTaskResponse.decode(bytes).task, task)
    const bare: Task = { ...task, description: undefined, due_at: undefined, completed_at: undefined }
    const decoded = GetTaskResponse.decode(GetTaskResponse.encode({ task: bare }).finish()).task
    assert.strictEqual(decoded?.description, undefined)
    assert.strictEqual(decoded?.completed_at, undefined)
  })

  it("a grpc-js server and client built from the stubs talk to each other over loopback", async () => {
    const server = new grpc.Server()
    const unimplemented = (_call: unknown, callback: (error: grpc.ServiceError | null) => void) =>
      callback({
        ...new Error("unimplemented"),
        name: "Error",
        message: "unimplemented",
        code: grpc.status.UNIMPLEMENTED,
        details: "",
        metadata: new grpc.Metadata()
      })
    const implementation: TasksServiceServer = {
      createTask: unimplemented,
      getTask: (call, callback) => callback(null, { task: { ...task, id: call.request.id } }),
      listTasks: unimplemented,
      completeTask: unimplemented,
      startTask: unimplemented,
      cancelTask: unimplemented
    }
    server.addService(TasksServiceService, implementation)
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p)
      )
    )
    const client = new TasksServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
    try {
      const response = await new Promise<GetTaskResponse>((resolve, reject) =>
        client.getTask({ id: "01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f99" }, (error, r) =>
          error ? reject(error) : resolve(r)
        )
      )
      assert.deepStrictEqual(response.task, { ...task, id: "01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f99" })
      const failure = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.startTask({ id: "x" }, (error) => resolve(error))
      )
      assert.strictEqual(failure?.code, grpc.status.UNIMPLEMENTED)
    } finally {
      client.close()
      server.forceShutdown()
    }
  })
})
