import { assert, describe, it } from "@effect/vitest"
import { DateTime, Option, Result, Schema } from "effect"
import { isTerminal, Lifecycle, type NewTaskFields, Task, TaskCommand, TaskId } from "../src/index.ts"
import { history, instant, taskId } from "./arbitraries.ts"

const EVENT_OF = {
  create: "workstream.task.created.v1",
  start: "workstream.task.started.v1",
  complete: "workstream.task.completed.v1",
  cancel: "workstream.task.cancelled.v1"
} as const

const isValidTask = Schema.is(Task)

describe("task lifecycle invariants", () => {
  it.prop("any command sequence yields a valid task", [history], ([{ outcomes }]) => {
    for (const { result } of outcomes) {
      if (Result.isSuccess(result)) assert.isTrue(isValidTask(result.success.task))
    }
  })

  it.prop("terminal states are absorbing", [history], ([{ outcomes }]) => {
    for (const { before, result } of outcomes) {
      if (Option.isNone(before) || !isTerminal(before.value.status)) continue
      if (Result.isSuccess(result)) {
        assert.deepStrictEqual(result.success.task, before.value)
        assert.strictEqual(result.success.events.length, 0)
      } else {
        assert.strictEqual((result.failure as { _tag: string })._tag, "InvalidTransition")
      }
    }
  })

  it.prop("complete on COMPLETED is idempotent with no event", [taskId, instant, instant], ([id, createdAt, later]) => {
    const created = Lifecycle.decide(
      Option.none(),
      TaskCommand.CreateTask({ task_id: id, fields: { title: "t" } }),
      createdAt
    )
    const completed = Result.flatMap(created, ({ task }) =>
      Lifecycle.decide(Option.some(task), TaskCommand.CompleteTask({ task_id: id }), createdAt)
    )
    assert.isTrue(Result.isSuccess(completed))
    const task = Result.getOrThrow(completed).task
    const again = Lifecycle.decide(Option.some(task), TaskCommand.CompleteTask({ task_id: id }), later)
    assert.deepStrictEqual(Result.getOrThrow(again), { task, events: [] })
  })

  it.prop(
    "every successful change bumps version by exactly one and emits exactly one event whose type matches the change",
    [history],
    ([{ outcomes }]) => {
      for (const { before, step, result } of outcomes) {
        if (Result.isFailure(result)) continue
        const { task, events } = result.success
        const previousVersion = Option.match(before, { onNone: () => 0, onSome: (t) => t.version })
        if (events.length === 0) {
          // The only success that changes nothing: completing what is already completed.
          assert.strictEqual(step.command, "complete")
          assert.strictEqual(task.version, previousVersion)
          continue
        }
        assert.strictEqual(task.version, previousVersion + 1)
        assert.strictEqual(events.length, 1)
        const [event] = events
        assert.strictEqual(event?.event_type, EVENT_OF[step.command])
        assert.deepStrictEqual(event?.task, task)
      }
    }
  )

  it.prop("completed_at is set iff COMPLETED", [history], ([{ outcomes }]) => {
    for (const { result } of outcomes) {
      if (Result.isFailure(result)) continue
      const { task } = result.success
      assert.strictEqual(task.completed_at !== undefined, task.status === "COMPLETED")
    }
  })

  it.prop("updated_at never decreases, even when the clock goes backwards", [history], ([{ outcomes }]) => {
    let last: DateTime.Utc | undefined
    for (const { result } of outcomes) {
      if (Result.isFailure(result)) continue
      const { task } = result.success
      if (last !== undefined) assert.isTrue(DateTime.isGreaterThanOrEqualTo(task.updated_at, last))
      assert.isTrue(DateTime.isGreaterThanOrEqualTo(task.updated_at, task.created_at))
      last = task.updated_at
    }
  })

  it.prop("a command on a task that does not exist fails with TaskNotFound", [history], ([{ outcomes }]) => {
    for (const { before, step, result } of outcomes) {
      if (Option.isSome(before) || step.command === "create") continue
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) assert.strictEqual((result.failure as { _tag: string })._tag, "TaskNotFound")
    }
  })
})

describe("Lifecycle.decide", () => {
  const id = Schema.decodeSync(TaskId)("01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90")
  const now = DateTime.makeUnsafe("2026-11-22T10:00:00.000Z")
  const create = (fields: NewTaskFields) =>
    Lifecycle.decide(Option.none(), TaskCommand.CreateTask({ task_id: id, fields }), now)

  it("creates a PENDING task at version 1 with the title trimmed and priority MEDIUM by default", () => {
    const { task, events } = Result.getOrThrow(create({ title: "  Ship it  " }))
    assert.strictEqual(task.title, "Ship it")
    assert.strictEqual(task.status, "PENDING")
    assert.strictEqual(task.priority, "MEDIUM")
    assert.strictEqual(task.version, 1)
    assert.strictEqual(events[0]?.event_type, "workstream.task.created.v1")
  })

  it("reports every field problem of a create, not just the first", () => {
    const result = create({ title: "   ", description: "d".repeat(10_001), assignee: " " })
    assert.isTrue(Result.isFailure(result))
    const error = Result.isFailure(result) ? result.failure : undefined
    assert.strictEqual(error?._tag, "ValidationError")
    const paths = error?._tag === "ValidationError" ? error.problems.map((p) => p.path).sort() : []
    assert.deepStrictEqual(paths, ["assignee", "description", "title"])
  })

  it("counts the 200-character title limit in characters, not UTF-16 units", () => {
    assert.isTrue(Result.isSuccess(create({ title: "😀".repeat(200) })))
    assert.isTrue(Result.isFailure(create({ title: "😀".repeat(201) })))
  })

  it("refuses to start a cancelled task with InvalidTransition naming the status", () => {
    const cancelled = Result.getOrThrow(
      Result.flatMap(create({ title: "t" }), ({ task }) =>
        Lifecycle.decide(Option.some(task), TaskCommand.CancelTask({ task_id: id }), now)
      )
    ).task
    const result = Lifecycle.decide(Option.some(cancelled), TaskCommand.StartTask({ task_id: id }), now)
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) assert.strictEqual(result.failure.message, `cannot start task ${id}: it is CANCELLED`)
  })
})

describe("text fields", () => {
  const id = Schema.decodeSync(TaskId)("01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90")
  const now = DateTime.makeUnsafe("2026-11-22T10:00:00.000Z")
  it("refuse NUL characters and lone surrogates, which a database would reject or silently alter", () => {
    for (const fields of [
      { title: "a\u0000b" },
      { title: "x\ud800y" },
      { title: "ok", description: "\u0000" },
      { title: "ok", assignee: "\udfff" }
    ]) {
      const result = Lifecycle.decide(Option.none(), TaskCommand.CreateTask({ task_id: id, fields }), now)
      assert.isTrue(Result.isFailure(result), JSON.stringify(fields))
    }
  })
})

describe("due_at", () => {
  const id = Schema.decodeSync(TaskId)("01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90")
  const now = DateTime.makeUnsafe("2026-11-22T10:00:00.000Z")
  it("is refused outside years 0001..9999, which a protobuf Timestamp and the stores cannot hold", () => {
    const decideWith = (due: string) =>
      Lifecycle.decide(
        Option.none(),
        TaskCommand.CreateTask({ task_id: id, fields: { title: "t", due_at: DateTime.makeUnsafe(due) } }),
        now
      )
    assert.isTrue(Result.isSuccess(decideWith("9999-12-31T23:59:59.999Z")))
    assert.isTrue(Result.isSuccess(decideWith("0001-01-01T00:00:00.000Z")))
    assert.isTrue(Result.isFailure(decideWith("+010000-01-01T00:00:00.000Z")))
    assert.isTrue(Result.isFailure(decideWith("0000-12-31T23:59:59.999Z")))
  })
})
