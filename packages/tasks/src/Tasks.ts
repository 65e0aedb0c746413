/**
 * The tasks application service: runs each command through the pure lifecycle and commits
 * the task change together with its outbox rows atomically, in one statement (DESIGN §5). Concurrent
 * changes of one task are resolved by optimistic concurrency on `version`.
 */
import { createHash } from "node:crypto"
import {
  type DomainError,
  Ids,
  Lifecycle,
  type NewTaskFields,
  type Task,
  TaskCommand,
  type TaskId,
  TaskNotFound,
  type TaskStatus,
  toEnvelope
} from "@workstream/domain"
import { LazyRetry, TraceContext, Tracing } from "@workstream/platform"
import { Context, DateTime, Effect, Layer, Option, Schedule, Schema } from "effect"
import { SqlError } from "effect/sql"
import { CreateBatcher } from "./CreateBatcher.ts"
import { IdempotencyKeys } from "./db/IdempotencyKeys.ts"
import type { NewOutboxRow } from "./db/OutboxStore.ts"
import { type KeyClaim, TaskChanges } from "./db/TaskChanges.ts"
import { TaskRepository } from "./db/TaskRepository.ts"
import {
  IdempotencyKeyReused,
  type InvalidPageToken,
  type Overloaded,
  StoreUnavailable,
  storeTimedOut
} from "./errors.ts"
import { OutboxSignal } from "./outbox/OutboxSignal.ts"
import * as PageToken from "./PageToken.ts"
import { TasksConfig } from "./TasksConfig.ts"

export type Transition = "start" | "complete" | "cancel"

export interface Page {
  readonly tasks: ReadonlyArray<Task>
  /** Empty when there is nothing after this page. */
  readonly nextPageToken: string
}

export type CommandError = DomainError | IdempotencyKeyReused | StoreUnavailable

/** Someone else changed the task between our read and our write: read again and re-decide. */
class VersionConflict extends Schema.TaggedError<VersionConflict>()("VersionConflict", {}) {}
/** The idempotency key is live already: a replay, or a concurrent create with it committed first. */
class KeyTaken extends Schema.TaggedError<KeyTaken>()("KeyTaken", {}) {}
/** The key expired and was swept between a refused claim and the look-up: there is nothing to replay. */
class KeySwept extends Schema.TaggedError<KeySwept>()("KeySwept", {}) {}

// A conflict means another writer just succeeded; a handful of re-reads always settles it.
const onVersionConflict = Schedule.recurs(8)

const commandFor = { start: TaskCommand.StartTask, complete: TaskCommand.CompleteTask, cancel: TaskCommand.CancelTask }

/** The fields a client chose, in a fixed order: what "the same request" means for an idempotency key. */
const requestHash = (task: Task): string => {
  const { title, description, priority, assignee, due_at } = task
  const fields = [title, description ?? null, priority, assignee ?? null, due_at ? DateTime.formatIso(due_at) : null]
  return createHash("sha256").update(JSON.stringify(fields)).digest("hex")
}

export class Tasks extends Context.Service<
  Tasks,
  {
    readonly create: (input: {
      readonly fields: NewTaskFields
      readonly idempotencyKey?: string | undefined
      readonly trace: TraceContext.TraceContext
    }) => Effect.Effect<Task, CommandError | Overloaded>
    readonly transition: (
      name: Transition,
      id: TaskId,
      trace: TraceContext.TraceContext
    ) => Effect.Effect<Task, CommandError>
    readonly get: (id: TaskId) => Effect.Effect<Task, TaskNotFound | StoreUnavailable>
    readonly list: (options: {
      readonly status?: TaskStatus | undefined
      readonly pageSize: number
      readonly pageToken?: string | undefined
    }) => Effect.Effect<Page, InvalidPageToken | StoreUnavailable>
  }
>()("@workstream/tasks/Tasks") {
  static readonly layer = Layer.effect(
    Tasks,
    Effect.gen(function* () {
      const repository = yield* TaskRepository
      const changes = yield* TaskChanges
      const creates = yield* CreateBatcher
      const keys = yield* IdempotencyKeys
      const config = yield* TasksConfig
      const signal = yield* OutboxSignal
      // Each command's own span only for a tracing backend: the RPC's span carries the trace anyway.
      const traced = yield* Tracing.steps

      /** Bounds a store round by the configured timeout and turns every store failure into one error. */
      const store =
        (operation: string) =>
        <A, E, R>(
          effect: Effect.Effect<A, E, R>
        ): Effect.Effect<A, Exclude<E, SqlError.SqlError> | StoreUnavailable, R> =>
          effect.pipe(
            Effect.timeoutOrElse({
              duration: config.databaseTimeout,
              orElse: () => Effect.fail(storeTimedOut(operation))
            }),
            Effect.mapError((error): Exclude<E, SqlError.SqlError> | StoreUnavailable =>
              SqlError.isSqlError(error)
                ? new StoreUnavailable({ operation, cause: error })
                : // Sound: the guard above removed every SqlError; TypeScript cannot narrow a type parameter.
                  (error as Exclude<E, SqlError.SqlError>)
            )
          )

      /** A change written; once it has committed, this process's relay wakes. */
      const written = <E>(change: Effect.Effect<boolean, E>) =>
        Effect.tap(change, (wrote) => (wrote ? signal.committed : Effect.void))

      /**
       * A create written, bounded by the batcher: by `DATABASE_TIMEOUT`, or by the call's deadline,
       * at which grpc-js interrupts the call.
       */
      const createWritten = (task: Task, events: ReadonlyArray<NewOutboxRow>, key?: KeyClaim) =>
        written(creates.create(task, events, key))

      /**
       * The decision's events as outbox rows, joining the trace of the current span: the command's
       * with a tracing backend, else the RPC's (which continues the caller's trace either way).
       */
      const outboxRows = (decision: Lifecycle.Decision, trace: TraceContext.TraceContext) =>
        Effect.gen(function* () {
          const span = yield* Effect.option(Effect.currentSpan)
          const active = Option.match(span, {
            onNone: () => TraceContext.continueOrStart(trace),
            onSome: (s) => ({
              trace_id: s.traceId,
              traceparent: TraceContext.traceparentOf(s),
              ...(trace.tracestate === undefined ? {} : { tracestate: trace.tracestate })
            })
          })
          return yield* Effect.forEach(decision.events, (change) =>
            Effect.map(Ids.eventId, (event_id) => ({
              envelope: toEnvelope(change, { event_id, trace_id: active.trace_id }),
              traceparent: active.traceparent,
              ...(active.tracestate === undefined ? {} : { tracestate: active.tracestate })
            }))
          )
        })

      const findExisting = (key: string, hash: string, now: DateTime.Utc) =>
        Effect.gen(function* () {
          const existing = yield* keys.find(key, now)
          if (Option.isNone(existing)) return Option.none<Task>()
          if (existing.value.request_hash !== hash) return yield* new IdempotencyKeyReused({ key })
          return yield* repository.find(existing.value.task_id)
        })

      const create = Effect.fnUntraced(function* (input: {
        readonly fields: NewTaskFields
        readonly idempotencyKey?: string | undefined
        readonly trace: TraceContext.TraceContext
      }) {
        const now = yield* DateTime.now
        const id = yield* Ids.taskId
        const decision = yield* Effect.fromResult(
          Lifecycle.decide(Option.none(), TaskCommand.CreateTask({ task_id: id, fields: input.fields }), now)
        )
        const key = input.idempotencyKey
        const events = yield* outboxRows(decision, input.trace)
        if (key === undefined) {
          // Nothing can refuse an insert without a key: a refusal would be a bug in the statement.
          if (!(yield* createWritten(decision.task, events))) {
            return yield* Effect.die(new Error(`the create of ${id} wrote nothing`))
          }
          return decision.task
        }
        const hash = requestHash(decision.task)
        const expires_at = DateTime.addDuration(now, config.idempotencyTtl)
        // The key is claimed in the create's own statement, with no look-up first: nearly every key is
        // new (the gateway mints one per create), so a look-up would be a round trip spent on nothing.
        const claim = Effect.flatMap(
          createWritten(decision.task, events, { key, request_hash: hash, expires_at }),
          (claimed) => (claimed ? Effect.succeed(decision.task) : Effect.fail(new KeyTaken()))
        )
        // A live key fails the claim (a replay, or a concurrent create that committed first): answer
        // as that create did.
        const claimOrReplay = Effect.catchTag(claim, "KeyTaken", () =>
          findExisting(key, hash, now).pipe(
            store("create"),
            Effect.flatMap(Option.match({ onNone: () => Effect.fail(new KeySwept()), onSome: Effect.succeed }))
          )
        )
        // Swept: the key is free now, so claim it again, once. Twice in a row cannot happen in practice.
        return yield* LazyRetry.retry(claimOrReplay, (again) =>
          Effect.retry(again, { times: 1, while: (error) => error._tag === "KeySwept" })
        ).pipe(
          Effect.catchTag("KeySwept", () =>
            Effect.fail(new StoreUnavailable({ operation: "create", cause: "the idempotency key was swept twice" }))
          )
        )
      }, traced("Tasks.create"))

      const transition = Effect.fnUntraced(function* (name: Transition, id: TaskId, trace: TraceContext.TraceContext) {
        yield* Effect.annotateCurrentSpan({ "workstream.task_id": id, "workstream.command": name })
        const attempt = Effect.gen(function* () {
          const current = yield* repository.find(id).pipe(store(name))
          const now = yield* DateTime.now
          const decision = yield* Effect.fromResult(Lifecycle.decide(current, commandFor[name]({ task_id: id }), now))
          if (decision.events.length === 0 || Option.isNone(current)) return decision.task
          const expected = current.value.version
          const events = yield* outboxRows(decision, trace)
          if (!(yield* written(changes.update(decision.task, expected, events).pipe(store(name))))) {
            return yield* new VersionConflict()
          }
          return decision.task
        })
        return yield* LazyRetry.retry(attempt, (again) =>
          Effect.retry(again, { schedule: onVersionConflict, while: (e) => e._tag === "VersionConflict" })
        ).pipe(
          Effect.catchTag("VersionConflict", (cause) => Effect.fail(new StoreUnavailable({ operation: name, cause })))
        )
      }, traced("Tasks.transition"))

      const get = Effect.fnUntraced(function* (id: TaskId) {
        const task = yield* repository.find(id).pipe(store("get"))
        if (Option.isNone(task)) return yield* new TaskNotFound({ task_id: id })
        return task.value
      }, traced("Tasks.get"))

      const list = Effect.fnUntraced(function* (options: {
        readonly status?: TaskStatus | undefined
        readonly pageSize: number
        readonly pageToken?: string | undefined
      }) {
        const after =
          options.pageToken === undefined || options.pageToken === ""
            ? undefined
            : yield* Effect.fromResult(PageToken.decode(options.pageToken))
        // One extra row tells whether another page exists without a second query.
        const rows = yield* repository
          .list({
            limit: options.pageSize + 1,
            ...(options.status === undefined ? {} : { status: options.status }),
            ...(after === undefined ? {} : { after })
          })
          .pipe(store("list"))
        const tasks = rows.slice(0, options.pageSize)
        const last = tasks.at(-1)
        return {
          tasks,
          nextPageToken: rows.length > options.pageSize && last !== undefined ? PageToken.encode(last.id) : ""
        }
      }, traced("Tasks.list"))

      return Tasks.of({ create, transition, get, list })
    })
  )
}
