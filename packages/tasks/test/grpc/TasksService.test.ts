import { assert, layer } from "@effect/vitest"
import { decodeEvent } from "@workstream/domain"
import { TaskPriority, TaskStatus } from "@workstream/proto"
import { Duration, Effect, Fiber, Result } from "effect"
import { SqlClient } from "effect/sql"
import { DEFAULT_WRITERS } from "../../src/CreateBatcher.ts"
import { call, codeOf, http, takeMessages } from "../support/clients.ts"
import { lockTasks, nobodyWaitsOnALock, someoneWaitsOnALock, tasksTitled, waitingOnALock } from "../support/database.ts"
import { databaseOf, TasksUnderTest } from "../support/harness.ts"

const UNKNOWN_ID = "01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90"
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

layer(TasksUnderTest.layer, { timeout: "60 seconds", excludeTestServices: true })("TasksService over gRPC", (it) => {
  const service = Effect.service(TasksUnderTest)
  const create = (title: string, extra: Record<string, unknown> = {}, metadata?: Record<string, string>) =>
    Effect.flatMap(service, ({ client }) =>
      call(
        client.createTask.bind(client),
        { title, priority: TaskPriority.TASK_PRIORITY_UNSPECIFIED, idempotency_key: "", ...extra },
        metadata === undefined ? {} : { metadata }
      )
    )
  const outboxRows = (taskId: string) =>
    Effect.flatMap(service, ({ databaseUrl }) =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ event_type: string; published: boolean }>`
          SELECT event_type, published_at IS NOT NULL AS published FROM outbox WHERE task_id = ${taskId} ORDER BY seq`
      }).pipe(Effect.provide(databaseOf(databaseUrl)))
    )

  it.effect(
    "CreateTask stores a PENDING task, commits its event and publishes it with message_id and traceparent",
    () =>
      Effect.gen(function* () {
        const { topology } = yield* service
        const { task } = yield* create(
          "  Write the report ",
          { priority: TaskPriority.TASK_PRIORITY_HIGH },
          {
            traceparent: TRACEPARENT
          }
        )
        assert.strictEqual(task?.title, "Write the report")
        assert.strictEqual(task?.status, TaskStatus.TASK_STATUS_PENDING)
        assert.strictEqual(task?.priority, TaskPriority.TASK_PRIORITY_HIGH)
        assert.strictEqual(task?.version, 1)

        const [message] = yield* takeMessages(topology.queue.name, 1)
        const event = Result.getOrThrow(decodeEvent(message?.body ?? ""))
        assert.strictEqual(event.event_type, "workstream.task.created.v1")
        assert.strictEqual(event.payload.id, task?.id)
        assert.strictEqual(message?.messageId, event.event_id)
        assert.strictEqual(message?.routingKey, "workstream.task.created.v1")
        assert.isTrue(message?.persistent)
        // The event joins the caller's trace as a child of the RPC's span: same trace id, its own span id.
        assert.match(String(message?.headers.traceparent), /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/)
        assert.notStrictEqual(message?.headers.traceparent, TRACEPARENT)
        assert.strictEqual(event.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736")
        assert.deepStrictEqual(yield* outboxRows(task?.id ?? ""), [
          { event_type: "workstream.task.created.v1", published: true }
        ])
      })
  )

  it.effect("CreateTask forwards a well-formed tracestate on its event and drops one over 512 characters", () =>
    Effect.gen(function* () {
      const { topology } = yield* service
      yield* create("Traced", {}, { traceparent: TRACEPARENT, tracestate: "vendor=value" })
      yield* create("Oversized state", {}, { traceparent: TRACEPARENT, tracestate: `vendor=${"x".repeat(600)}` })
      const messages = yield* takeMessages(topology.queue.name, 2)
      assert.deepStrictEqual(
        messages.map((m) => m.headers.tracestate),
        ["vendor=value", undefined]
      )
    })
  )

  it.effect("CreateTask with bad fields is INVALID_ARGUMENT naming every bad field", () =>
    Effect.gen(function* () {
      const { client } = yield* service
      const error = yield* Effect.flip(
        call(client.createTask.bind(client), {
          title: "   ",
          description: "d".repeat(10_001),
          priority: TaskPriority.TASK_PRIORITY_UNSPECIFIED,
          idempotency_key: ""
        })
      )
      assert.strictEqual(error.code, 3)
      assert.include(error.details, "title")
      assert.include(error.details, "description")
    })
  )

  it.effect(
    "CreateTask with an idempotency key holding a NUL or over 200 characters is INVALID_ARGUMENT, named with the other bad fields",
    () =>
      Effect.gen(function* () {
        const { client } = yield* service
        for (const idempotency_key of ["nul\u0000key", "k".repeat(201)]) {
          const error = yield* Effect.flip(
            call(client.createTask.bind(client), { title: "Keyed", priority: 99 as TaskPriority, idempotency_key })
          )
          assert.strictEqual(error.code, 3)
          assert.include(error.details, "idempotency_key")
          assert.include(error.details, "priority")
        }
        const accepted = yield* call(client.createTask.bind(client), {
          title: "Keyed",
          priority: TaskPriority.TASK_PRIORITY_UNSPECIFIED,
          idempotency_key: "\u{1F511}".repeat(200)
        })
        assert.strictEqual(accepted.task?.title, "Keyed", "200 characters, counted as code points, are accepted")
      })
  )

  it.effect("GetTask: a malformed id is INVALID_ARGUMENT, an unknown one NOT_FOUND, a known one the task", () =>
    Effect.gen(function* () {
      const { client } = yield* service
      const get = client.getTask.bind(client)
      assert.strictEqual(yield* codeOf(call(get, { id: "42" })), "INVALID_ARGUMENT")
      assert.strictEqual(yield* codeOf(call(get, { id: UNKNOWN_ID })), "NOT_FOUND")
      const { task } = yield* create("Find me")
      const found = yield* call(get, { id: task?.id ?? "" })
      assert.deepStrictEqual(found.task, task)
    })
  )

  it.effect(
    "the lifecycle over gRPC: start, complete, complete again (no event), then start is FAILED_PRECONDITION",
    () =>
      Effect.gen(function* () {
        const { client } = yield* service
        const { task } = yield* create("Move me")
        const id = task?.id ?? ""
        const started = yield* call(client.startTask.bind(client), { id })
        assert.strictEqual(started.task?.status, TaskStatus.TASK_STATUS_IN_PROGRESS)
        const completed = yield* call(client.completeTask.bind(client), { id })
        assert.strictEqual(completed.task?.status, TaskStatus.TASK_STATUS_COMPLETED)
        assert.isDefined(completed.task?.completed_at)
        const again = yield* call(client.completeTask.bind(client), { id })
        assert.deepStrictEqual(again.task, completed.task)
        assert.strictEqual(yield* codeOf(call(client.startTask.bind(client), { id })), "FAILED_PRECONDITION")
        assert.strictEqual(yield* codeOf(call(client.cancelTask.bind(client), { id })), "FAILED_PRECONDITION")
        assert.strictEqual(yield* codeOf(call(client.cancelTask.bind(client), { id: UNKNOWN_ID })), "NOT_FOUND")
        const events = (yield* outboxRows(id)).map((row) => row.event_type)
        assert.deepStrictEqual(events, [
          "workstream.task.created.v1",
          "workstream.task.started.v1",
          "workstream.task.completed.v1"
        ])
      })
  )

  it.effect(
    "twenty concurrent CompleteTask calls on one task: all succeed, one COMPLETED task, exactly one event",
    () =>
      Effect.gen(function* () {
        const { client } = yield* service
        const { task } = yield* create("Race me")
        const id = task?.id ?? ""
        const results = yield* Effect.forEach(
          Array.from({ length: 20 }),
          () => call(client.completeTask.bind(client), { id }),
          { concurrency: "unbounded" }
        )
        for (const result of results) assert.strictEqual(result.task?.version, 2)
        const completedEvents = (yield* outboxRows(id)).filter((r) => r.event_type === "workstream.task.completed.v1")
        assert.strictEqual(completedEvents.length, 1)
      })
  )

  it.effect("an idempotency key replays the same task with no second event, and refuses a different request", () =>
    Effect.gen(function* () {
      const key = `key-${Date.now()}`
      const first = yield* create("Once", { idempotency_key: key })
      const replay = yield* create("Once", { idempotency_key: key })
      assert.deepStrictEqual(replay.task, first.task)
      assert.strictEqual((yield* outboxRows(first.task?.id ?? "")).length, 1)
      assert.strictEqual(yield* codeOf(create("Something else", { idempotency_key: key })), "ALREADY_EXISTS")
    })
  )

  it.effect("concurrent creates with one idempotency key make one task", () =>
    Effect.gen(function* () {
      const key = `race-${Date.now()}`
      const results = yield* Effect.forEach(Array.from({ length: 8 }), () => create("Same", { idempotency_key: key }), {
        concurrency: "unbounded"
      })
      const ids = new Set(results.map((r) => r.task?.id))
      assert.strictEqual(ids.size, 1)
    })
  )

  it.effect("ListTasks rejects a page_size over 100 and a token it did not issue", () =>
    Effect.gen(function* () {
      const { client } = yield* service
      const list = client.listTasks.bind(client)
      assert.strictEqual(
        yield* codeOf(call(list, { status: TaskStatus.TASK_STATUS_UNSPECIFIED, page_size: 101, page_token: "" })),
        "INVALID_ARGUMENT"
      )
      assert.strictEqual(
        yield* codeOf(call(list, { status: TaskStatus.TASK_STATUS_UNSPECIFIED, page_size: 10, page_token: "bogus" })),
        "INVALID_ARGUMENT"
      )
    })
  )

  it.effect("a call whose deadline passes gets DEADLINE_EXCEEDED", () =>
    Effect.gen(function* () {
      const { client } = yield* service
      const code = yield* codeOf(
        call(client.listTasks.bind(client), { status: 0, page_size: 100, page_token: "" }, { deadlineMs: 0 })
      )
      assert.strictEqual(code, "DEADLINE_EXCEEDED")
    })
  )
})

layer(TasksUnderTest.layerWith({ databaseTimeout: Duration.nanos(1000n) }), {
  timeout: "60 seconds",
  excludeTestServices: true
})("TasksService when Postgres does not answer in time", (it) => {
  it.effect("is UNAVAILABLE, with no internal detail in the message", () =>
    Effect.gen(function* () {
      const { client } = yield* Effect.service(TasksUnderTest)
      const error = yield* Effect.flip(call(client.getTask.bind(client), { id: UNKNOWN_ID }))
      assert.strictEqual(error.code, 14)
      assert.notInclude(error.details.toLowerCase(), "sql")
    })
  )
})

layer(TasksUnderTest.layerWith({ databaseTimeout: Duration.seconds(30) }), {
  timeout: "60 seconds",
  excludeTestServices: true
})("TasksService when a create cannot be written before its call's deadline", (it) => {
  it.effect("is DEADLINE_EXCEEDED, and its statement is cancelled then, not at DATABASE_TIMEOUT", () =>
    Effect.gen(function* () {
      const { client, databaseUrl, settings } = yield* Effect.service(TasksUnderTest)
      const lock = yield* lockTasks(databaseUrl)
      const database = databaseOf(databaseUrl)
      const title = "Outlived its caller"
      const answer = call(
        client.createTask.bind(client),
        { title, priority: TaskPriority.TASK_PRIORITY_UNSPECIFIED, idempotency_key: "" },
        { deadlineMs: 1_000 }
      )
      const answered = yield* Effect.forkChild(codeOf(answer))
      yield* someoneWaitsOnALock.pipe(Effect.provide(database))
      assert.strictEqual(yield* Fiber.join(answered), "DEADLINE_EXCEEDED")
      // Cancelled at the call's deadline (1 s), so it soon stops waiting; DATABASE_TIMEOUT's cancel is 30 s away.
      yield* nobodyWaitsOnALock.pipe(Effect.timeout(Duration.seconds(3)), Effect.provide(database))
      yield* lock.release
      assert.strictEqual(
        yield* tasksTitled(databaseUrl, title),
        0,
        "nothing was written after the caller heard DEADLINE_EXCEEDED"
      )
      const metrics = yield* http(settings.httpPort, "/metrics")
      assert.match(
        metrics.body,
        /rpc_server_calls_total\{[^}]*method="CreateTask"[^}]*code="DEADLINE_EXCEEDED"[^}]*\} 1$/m
      )
    })
  )

  it.effect("is DEADLINE_EXCEEDED while still queued behind busy writers, and is never written", () =>
    Effect.gen(function* () {
      const { client, databaseUrl } = yield* Effect.service(TasksUnderTest)
      const lock = yield* lockTasks(databaseUrl)
      const database = databaseOf(databaseUrl)
      const create = (title: string, deadlineMs: number) =>
        codeOf(
          call(
            client.createTask.bind(client),
            { title, priority: TaskPriority.TASK_PRIORITY_UNSPECIFIED, idempotency_key: "" },
            { deadlineMs }
          )
        )
      // One statement per writer, each blocked on the lock: a create after them can only queue.
      const busy = []
      for (let i = 1; i <= DEFAULT_WRITERS; i++) {
        busy.push(yield* Effect.forkChild(create(`Holds writer ${i}`, 20_000)))
        yield* waitingOnALock(i).pipe(Effect.provide(database))
      }
      const title = "Queued past its deadline"
      assert.strictEqual(yield* create(title, 1_000), "DEADLINE_EXCEEDED")
      yield* lock.release
      assert.deepStrictEqual(yield* Effect.forEach(busy, Fiber.join), Array(DEFAULT_WRITERS).fill("OK"))
      assert.strictEqual(
        yield* tasksTitled(databaseUrl, title),
        0,
        "a writer dropped it once free: its caller had gone"
      )
    })
  )
})

layer(TasksUnderTest.layerWith({ idempotencyTtl: Duration.seconds(1) }), {
  timeout: "60 seconds",
  excludeTestServices: true
})("TasksService idempotency keys", (it) => {
  it.effect("expire after their time to live: the key then belongs to the next request", () =>
    Effect.gen(function* () {
      const { client } = yield* Effect.service(TasksUnderTest)
      const create = (title: string) =>
        call(client.createTask.bind(client), { title, priority: 0, idempotency_key: "expiring" })
      const first = yield* create("Before")
      assert.strictEqual(yield* codeOf(create("Different")), "ALREADY_EXISTS")
      yield* Effect.sleep("1200 millis")
      const later = yield* create("Different")
      assert.notStrictEqual(later.task?.id, first.task?.id)
      assert.strictEqual(later.task?.title, "Different")
    })
  )
})
