/**
 * Domain values for store tests, made by the domain itself (the lifecycle, `Ids`), at instants the
 * test chooses: ids made at increasing milliseconds sort in that order, whatever the real clock does.
 */
import {
  type EventId,
  Ids,
  Lifecycle,
  type NewTaskFields,
  type Task,
  TaskCommand,
  type TaskEventEnvelope,
  type TaskId,
  toEnvelope
} from "@workstream/domain"
import { DateTime, Effect, Option } from "effect"
import { TestClock } from "effect/testing"

/** 2026-11-22T00:00:00Z: a fixed start, so failures replay with the same instants. */
export const BASE_MS = Date.UTC(2026, 10, 22)

/** Hands out strictly increasing instants (epoch ms), one millisecond apart. */
export const timeline = (start = BASE_MS): Effect.Effect<number> => {
  let last = start
  return Effect.sync(() => ++last)
}

/** Runs an id generator with Effect's Clock at `ms`: UUIDv7 carries that instant in its first 48 bits. */
const atInstant = <A>(ms: number, make: Effect.Effect<A>): Effect.Effect<A> =>
  Effect.gen(function* () {
    yield* TestClock.setTime(ms)
    return yield* make
  }).pipe(Effect.provide(TestClock.layer()))

export const taskIdAt = (ms: number): Effect.Effect<TaskId> => atInstant(ms, Ids.taskId)
export const eventIdAt = (ms: number): Effect.Effect<EventId> => atInstant(ms, Ids.eventId)

/** The decision of creating a task at `ms` (its id made at the same instant). */
export const created = (ms: number, fields: NewTaskFields = { title: `Task ${ms}` }) =>
  Effect.gen(function* () {
    const task_id = yield* taskIdAt(ms)
    return yield* Effect.fromResult(
      Lifecycle.decide(Option.none(), TaskCommand.CreateTask({ task_id, fields }), DateTime.makeUnsafe(ms))
    )
  }).pipe(Effect.orDie)

const commands = {
  start: TaskCommand.StartTask,
  complete: TaskCommand.CompleteTask,
  cancel: TaskCommand.CancelTask
}
export type Transition = keyof typeof commands

/** The decision of a transition of `task` at `ms`; dies if the lifecycle refuses it (a test bug). */
export const transitioned = (task: Task, transition: Transition, ms: number) =>
  Effect.orDie(
    Effect.fromResult(
      Lifecycle.decide(Option.some(task), commands[transition]({ task_id: task.id }), DateTime.makeUnsafe(ms))
    )
  )

/** A task created at `ms` and then moved through `transitions`, one millisecond apart. */
export const taskThrough = (ms: number, transitions: ReadonlyArray<Transition>, fields?: NewTaskFields) =>
  Effect.gen(function* () {
    let { task } = yield* created(ms, fields)
    for (const [i, transition] of transitions.entries()) {
      task = (yield* transitioned(task, transition, ms + i + 1)).task
    }
    return task
  })

export const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"

/** The envelopes of a decision's events, with event ids made at `ms`, `ms + 1`, ... */
export const envelopesOf = (decision: Lifecycle.Decision, ms: number) =>
  Effect.forEach(
    decision.events,
    (change, i): Effect.Effect<TaskEventEnvelope> =>
      Effect.map(eventIdAt(ms + i), (event_id) => toEnvelope(change, { event_id, trace_id: TRACE_ID }))
  )
