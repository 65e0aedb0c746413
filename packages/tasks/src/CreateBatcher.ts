/**
 * Concurrent creates share statements (group commit). Each create joins a queue; a few writers each
 * take whatever has gathered, up to `maxBatch`, and insert it with one `TaskChanges.createMany`.
 * On a quiet service a create finds a writer idle and goes alone at once: nothing waits for a batch
 * to fill. Under load a statement carries what arrived while the ones before it ran, and Postgres
 * does a create's work for much less: 0.59 ms of its CPU per create alone, 0.18 in statements of
 * six (a plain driver, 10 connections).
 *
 * A statement's outcome is each of its creates' outcome: they commit together or fail together.
 * A create's deadline is `DATABASE_TIMEOUT` after it joins, or its call's deadline (`CallDeadline`)
 * when sooner. One still queued at its deadline (or nearly then) is dropped unwritten: answered
 * "timed out" at `DATABASE_TIMEOUT`, and at its call's deadline its caller is gone already (grpc-js
 * answered DEADLINE_EXCEEDED and interrupted it). A statement is cancelled at the earliest deadline
 * of the creates in it, and its callers wait for the cancel (the driver's: a CancelRequest, then a drain of a few seconds at most
 * when Postgres does not answer). A cancelled statement may still have committed (the README's
 * "lost answer"), and PGlite (the embedded mode) cannot cancel one at all: there a statement that
 * times out runs on, and its creates are written.
 */
import type { Task } from "@workstream/domain"
import { Tracing } from "@workstream/platform"
import {
  Array as Arr,
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Layer,
  Metric,
  Option,
  Queue,
  type Tracer
} from "effect"
import { CallDeadline } from "./CallDeadline.ts"
import type { NewOutboxRow } from "./db/OutboxStore.ts"
import { type KeyClaim, type NewTask, TaskChanges } from "./db/TaskChanges.ts"
import { Overloaded, StoreUnavailable, storeTimedOut } from "./errors.ts"
import { TasksConfig } from "./TasksConfig.ts"

interface Pending extends NewTask {
  readonly span: Option.Option<Tracer.AnySpan>
  readonly done: Deferred.Deferred<boolean, StoreUnavailable>
  /** Epoch ms (Effect's Clock) by which its caller is answered. */
  readonly deadline: number
  /**
   * `taken`: a writer has put it in a statement, and its caller waits for that statement's outcome.
   * `abandoned`: its caller stopped waiting (its deadline, a cancelled call) first; never written.
   */
  state: "queued" | "taken" | "abandoned"
}

/** Statements of creates in flight at once by default: four of the pool's ten connections. */
export const DEFAULT_WRITERS = 4

export interface Options {
  /**
   * Statements of creates in flight at once, each on its own connection (`DEFAULT_WRITERS`): four
   * of the pool's ten leave the reads, the updates and the relay room.
   */
  readonly writers?: number
  /** The most creates one statement carries. */
  readonly maxBatch?: number
  /**
   * The most creates waiting for a writer (those whose callers gave up count until a writer drops
   * them). One more is refused at once (`Overloaded`) instead of joining a wait it would spend most
   * of its deadline in: an overloaded service answers fast and keeps the latency of what it takes.
   */
  readonly maxQueued?: number
}

const statementSizes = Metric.histogram("tasks_create_statement_creates", {
  description: "creates per statement of creates (group commit): 1 on a quiet service, more under load",
  boundaries: [1, 2, 4, 8, 16, 32, 64]
})

const timedOut = () => storeTimedOut("create")
const shuttingDown = () => new StoreUnavailable({ operation: "create", cause: "the service is shutting down" })

const outcomeAt = (exit: Exit.Exit<ReadonlyArray<boolean>, StoreUnavailable>, i: number) =>
  Exit.map(exit, (written) => written[i] === true)

export class CreateBatcher extends Context.Service<
  CreateBatcher,
  {
    /** `TaskChanges.createMany` of this one create, in a statement shared with the creates beside it. */
    readonly create: (
      task: Task,
      events: ReadonlyArray<NewOutboxRow>,
      key?: KeyClaim
    ) => Effect.Effect<boolean, StoreUnavailable | Overloaded>
  }
>()("@workstream/tasks/CreateBatcher") {
  static readonly layer = ({ writers = DEFAULT_WRITERS, maxBatch = 64, maxQueued = 1024 }: Options = {}) =>
    Layer.effect(
      CreateBatcher,
      Effect.gen(function* () {
        const changes = yield* TaskChanges
        const { databaseTimeout } = yield* TasksConfig
        const traced = yield* Tracing.steps
        const queue = yield* Queue.bounded<Pending>(maxQueued)
        const minBudget = Math.min(100, Duration.toMillis(databaseTimeout) / 4)
        // Creates with less time left than this share a statement only with each other, so a caller in
        // a hurry (a retry late in its deadline) never cuts short the statement of those with time.
        const shortBudget = Duration.toMillis(databaseTimeout) / 4
        let closed = false

        /** Answers each create with its own part of the statement's outcome. */
        const settle = (creates: ReadonlyArray<Pending>, exit: Exit.Exit<ReadonlyArray<boolean>, StoreUnavailable>) =>
          Effect.forEach(creates, (create, i) => Deferred.done(create.done, outcomeAt(exit, i)), { discard: true })

        const statement = (creates: Arr.NonEmptyReadonlyArray<Pending>, budget: number) =>
          Effect.andThen(Metric.update(statementSizes, creates.length), changes.createMany(creates)).pipe(
            Effect.mapError((cause) => new StoreUnavailable({ operation: "create", cause })),
            Effect.timeoutOrElse({ duration: Duration.millis(budget), orElse: () => Effect.fail(timedOut()) }),
            // One span per statement, linked to each create's: a statement serves many traces.
            Effect.withSpan(
              "CreateBatcher.write",
              {
                root: true,
                links: creates.flatMap((create) =>
                  Option.isSome(create.span) ? [{ span: create.span.value, attributes: {} }] : []
                ),
                attributes: { "workstream.creates": creates.length }
              },
              { captureStackTrace: false }
            )
          )

        /**
         * One statement of creates, cancelled at the earliest of their deadlines. Only the statement
         * itself can be interrupted, so each create is answered however it ends.
         */
        const writeTogether = (now: number) => (creates: Arr.NonEmptyReadonlyArray<Pending>) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.gen(function* () {
              const budget = Math.min(...creates.map((create) => create.deadline)) - now
              const exit = yield* Effect.exit(restore(statement(creates, budget)))
              yield* settle(
                creates,
                Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? Exit.fail(shuttingDown()) : exit
              )
            })
          )

        /**
         * Writes what a writer took, all of it answered. A create with less than `minBudget` left is
         * not written: its statement would be cancelled, or commit while its caller hears "timed out".
         * Those with less than `shortBudget` left go in a statement of their own, beside the others'.
         */
        const write = (
          batch: ReadonlyArray<Pending>,
          restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
        ) =>
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const hurried: Array<Pending> = []
            const unhurried: Array<Pending> = []
            for (const create of batch) {
              if (create.state === "abandoned") continue
              const left = create.deadline - now
              if (left < minBudget) {
                yield* Deferred.fail(create.done, timedOut())
                continue
              }
              create.state = "taken"
              if (left < shortBudget) hurried.push(create)
              else unhurried.push(create)
            }
            const statements = [hurried, unhurried].filter(Arr.isArrayNonEmpty).map(writeTogether(now))
            yield* restore(Effect.all(statements, { concurrency: "unbounded", discard: true }))
          })

        const writer = Effect.forever(
          Effect.uninterruptibleMask((restore) =>
            Effect.flatMap(restore(Queue.takeBetween(queue, 1, maxBatch)), (batch) => write(batch, restore))
          )
        )
        for (let i = 0; i < writers; i++) yield* Effect.forkScoped(writer)
        // Runs before the writers stop: whatever is still queued is answered, and nothing joins after.
        yield* Effect.addFinalizer(() =>
          Effect.suspend(() => {
            closed = true
            return Effect.flatMap(Queue.clear(queue), (left) => settle(left, Exit.fail(shuttingDown())))
          })
        )

        const create = Effect.fnUntraced(function* (task: Task, events: ReadonlyArray<NewOutboxRow>, key?: KeyClaim) {
          yield* Effect.annotateCurrentSpan("workstream.task_id", task.id)
          const now = yield* Clock.currentTimeMillis
          // The caller's own deadline when it is sooner: a statement past it would commit unheard.
          const callDeadline = yield* CallDeadline
          const deadline = Math.min(callDeadline, now + Duration.toMillis(databaseTimeout))
          // Too little time left for any statement: no use queueing it.
          if (deadline - now < minBudget) return yield* timedOut()
          const pending: Pending = {
            task,
            events,
            key,
            span: yield* Effect.option(Effect.currentSpan),
            done: yield* Deferred.make<boolean, StoreUnavailable>(),
            deadline,
            state: "queued"
          }
          // One synchronous step, so nothing joins between the shutdown's last look at the queue and `closed`.
          yield* Effect.suspend((): Effect.Effect<void, StoreUnavailable | Overloaded> => {
            if (closed) return Effect.fail(shuttingDown())
            return Queue.offerUnsafe(queue, pending) ? Effect.void : Effect.fail(new Overloaded())
          })
          const answer = Deferred.await(pending.done)
          // The look and the mark in one synchronous step: no writer takes it in between.
          const abandonUnlessTaken = <A>(ifTaken: Effect.Effect<A, StoreUnavailable>) =>
            Effect.suspend(() => {
              if (pending.state === "taken") return ifTaken
              pending.state = "abandoned"
              return Effect.fail(timedOut())
            })
          // At the deadline: taken, it is answered by its statement, cancelled then at the latest;
          // not taken, it is dropped. The call's own deadline interrupts this fiber (see
          // CallDeadline); only a sooner one needs a timer, which races two fibers per create.
          const bounded =
            deadline < callDeadline
              ? Effect.timeoutOrElse(answer, {
                  duration: Duration.millis(Math.max(0, pending.deadline - now)),
                  orElse: () => abandonUnlessTaken(answer)
                })
              : answer
          return yield* Effect.onInterrupt(bounded, () => Effect.ignore(abandonUnlessTaken(Effect.void)))
        }, traced("CreateBatcher.create"))

        return CreateBatcher.of({ create })
      })
    )
}
