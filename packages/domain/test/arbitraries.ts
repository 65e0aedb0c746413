/** Generators for the property tests: command sequences that include invalid input and clock skew. */
import { Arbitrary, DateTime, Option, Result, Schema } from "effect"
import { EventId, Lifecycle, type Task, type TaskChanged, TaskCommand, TaskId, toEnvelope } from "../src/index.ts"

const int = (min: number, max: number) =>
  Arbitrary.schema(Schema.Int.check(Schema.isGreaterThanOrEqualTo(min), Schema.isLessThanOrEqualTo(max)))
export const pick = <const A extends ReadonlyArray<unknown>>(values: A): Arbitrary.Arbitrary<A[number]> =>
  Arbitrary.map(int(0, values.length - 1), (i) => values[i])

const hex = (length: number) =>
  Arbitrary.map(Arbitrary.array(int(0, 15), { minLength: length, maxLength: length }), (digits) =>
    digits.map((d) => d.toString(16)).join("")
  )

export const taskId = Arbitrary.map(
  Arbitrary.all([hex(12), hex(3), pick(["8", "9", "a", "b"]), hex(15)]),
  ([time, a, variant, rest]) =>
    Schema.decodeSync(TaskId)(
      `${time.slice(0, 8)}-${time.slice(8)}-7${a}-${variant}${rest.slice(0, 3)}-${rest.slice(3)}`
    )
)
export const eventId = Arbitrary.map(taskId, (id) => Schema.decodeSync(EventId)(id))
export const traceId = Arbitrary.filter(hex(32), (id) => !/^0+$/.test(id))

const YEAR_2020 = Date.UTC(2020, 0, 1)
const YEAR_2035 = Date.UTC(2035, 0, 1)
export const instant = Arbitrary.map(int(YEAR_2020, YEAR_2035), (ms) => DateTime.makeUnsafe(ms))

/** Titles of every kind the lifecycle must handle: fine, padded, blank, too long. */
const title = Arbitrary.flatMap(pick(["word", "word", "text", "padded", "blank", "long", "boundary"]), (kind) => {
  switch (kind) {
    case "word":
      return Arbitrary.map(int(0, 10_000), (n) => `Task ${n}`)
    case "text":
      return Arbitrary.schema(Schema.String)
    case "padded":
      return Arbitrary.map(Arbitrary.schema(Schema.String), (s) => `  ${s}x \n`)
    case "blank":
      return Arbitrary.map(int(0, 5), (n) => " ".repeat(n))
    case "long":
      return Arbitrary.map(int(190, 260), (n) => "t".repeat(n))
    case "boundary":
      return Arbitrary.map(int(199, 201), (n) => "é".repeat(n))
  }
})

const fields = Arbitrary.all({
  title,
  priority: pick([undefined, "LOW", "MEDIUM", "HIGH", "URGENT"] as const),
  description: pick([undefined, undefined, "", "details", "d".repeat(10_001)]),
  assignee: pick([undefined, undefined, "alice", "   ", "  bob  "]),
  due_at: Arbitrary.flatMap(pick([false, true]), (has) =>
    has ? Arbitrary.map(instant, Option.some) : Arbitrary.Constant(Option.none())
  )
})

/** One step: a command at some offset of the clock, possibly backwards (another replica's clock). */
export const step = Arbitrary.all({
  command: pick(["create", "start", "complete", "cancel"] as const),
  fields,
  driftMs: int(-60_000, 86_400_000)
})
export type Step = typeof step extends Arbitrary.Arbitrary<infer A> ? A : never

export const steps = Arbitrary.array(step, { maxLength: 12 })

export interface Outcome {
  readonly before: Option.Option<Task>
  readonly step: Step
  readonly now: DateTime.Utc
  readonly result: Result.Result<Lifecycle.Decision, unknown>
}

export const toCommand = (id: TaskId, s: Step): TaskCommand.TaskCommand => {
  switch (s.command) {
    case "create": {
      const { title, priority, description, assignee, due_at } = s.fields
      return TaskCommand.CreateTask({
        task_id: id,
        fields: {
          title,
          ...(priority === undefined ? {} : { priority }),
          ...(description === undefined ? {} : { description }),
          ...(assignee === undefined ? {} : { assignee }),
          ...(Option.isSome(due_at) ? { due_at: due_at.value } : {})
        }
      })
    }
    case "start":
      return TaskCommand.StartTask({ task_id: id })
    case "complete":
      return TaskCommand.CompleteTask({ task_id: id })
    case "cancel":
      return TaskCommand.CancelTask({ task_id: id })
  }
}

/** Runs the steps through the lifecycle, keeping the task a store would keep. */
export const run = (id: TaskId, start: DateTime.Utc, sequence: ReadonlyArray<Step>): Array<Outcome> => {
  const outcomes: Array<Outcome> = []
  let current: Option.Option<Task> = Option.none()
  let clock = DateTime.toEpochMillis(start)
  for (const s of sequence) {
    clock += s.driftMs
    const now = DateTime.makeUnsafe(clock)
    const result = Lifecycle.decide(current, toCommand(id, s), now)
    outcomes.push({ before: current, step: s, now, result })
    if (Result.isSuccess(result)) current = Option.some(result.success.task)
  }
  return outcomes
}

/** A task's history: a create attempt (valid or not), then any commands, with an id and a start time. */
export const history = Arbitrary.map(
  Arbitrary.all({ id: taskId, start: instant, first: step, steps }),
  ({ id, start, first, steps }) => ({ id, outcomes: run(id, start, [{ ...first, command: "create" }, ...steps]) })
)

/** Tasks that actually exist: each history starts with a valid create, so it always has one. */
const validCreate: Step = {
  command: "create",
  fields: {
    title: "Write the report",
    priority: "HIGH",
    description: undefined,
    assignee: undefined,
    due_at: Option.none()
  },
  driftMs: 0
}
export const tasks = Arbitrary.map(Arbitrary.all({ id: taskId, start: instant, steps }), ({ id, start, steps }) =>
  run(id, start, [validCreate, ...steps]).flatMap((o) => (Result.isSuccess(o.result) ? [o.result.success.task] : []))
)

export const changes: Arbitrary.Arbitrary<Array<TaskChanged>> = Arbitrary.map(
  Arbitrary.all({ id: taskId, start: instant, steps }),
  ({ id, start, steps }) =>
    run(id, start, [validCreate, ...steps]).flatMap((o) =>
      Result.isSuccess(o.result) ? [...o.result.success.events] : []
    )
)

export const envelopes = Arbitrary.map(
  Arbitrary.all({ changes, event_id: eventId, trace_id: traceId }),
  ({ changes, event_id, trace_id }) => changes.map((change) => toEnvelope(change, { event_id, trace_id }))
)
