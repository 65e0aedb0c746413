/**
 * `Tasks` against the real database, with the idempotency store wrapped to force the race a test
 * cannot time: a key that is live when the create claims it, and swept (expired, deleted) by the
 * time the create looks up what to replay.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option, Ref } from "effect"
import { SqlClient } from "effect/sql"
import { CreateBatcher } from "../src/CreateBatcher.ts"
import { IdempotencyKeys } from "../src/db/IdempotencyKeys.ts"
import { TaskChanges } from "../src/db/TaskChanges.ts"
import { TaskRepository } from "../src/db/TaskRepository.ts"
import { OutboxSignal } from "../src/outbox/OutboxSignal.ts"
import { Tasks } from "../src/Tasks.ts"
import { TasksConfig } from "../src/TasksConfig.ts"
import { TestDatabase } from "./support/database.ts"
import { settingsFor } from "./support/harness.ts"

/** Refuses the first claim, as for a live key, and finds nothing afterwards, as after a sweep. */
const SweptAfterTheClaim = Layer.effect(
  TaskChanges,
  Effect.gen(function* () {
    const real = yield* TaskChanges
    const refused = yield* Ref.make(false)
    return TaskChanges.of({
      ...real,
      createMany: (creates) =>
        Effect.flatMap(Ref.getAndSet(refused, true), (already) =>
          already ? real.createMany(creates) : Effect.succeed(creates.map(() => false))
        )
    })
  })
).pipe(Layer.provide(TaskChanges.layer))

const Config = Layer.unwrap(
  Effect.map(Effect.service(TestDatabase), ({ url }) =>
    Layer.effect(
      TasksConfig,
      Effect.map(settingsFor(url), (settings) => TasksConfig.of(settings))
    )
  )
)

const TasksUnderTest = Tasks.layer.pipe(
  Layer.provideMerge(CreateBatcher.layer()),
  Layer.provideMerge(
    Layer.mergeAll(TaskRepository.layer, IdempotencyKeys.layer, SweptAfterTheClaim, OutboxSignal.layer, Config)
  ),
  Layer.provideMerge(TestDatabase.layer)
)

layer(TasksUnderTest, { excludeTestServices: true, timeout: "60 seconds" })("Tasks.create", (it) => {
  it.effect("a key swept between a refused claim and the look-up is claimed again: one task, one event", () =>
    Effect.gen(function* () {
      const tasks = yield* Tasks
      const task = yield* tasks.create({ fields: { title: "swept key" }, idempotencyKey: "k-swept", trace: {} })
      const sql = yield* SqlClient.SqlClient
      const [counts] = yield* sql<{ tasks: number; events: number; keys: number }>`
        SELECT (SELECT count(*)::int FROM tasks) AS tasks, (SELECT count(*)::int FROM outbox) AS events,
          (SELECT count(*)::int FROM idempotency_keys WHERE key = 'k-swept' AND task_id = ${task.id}) AS keys`
      assert.deepStrictEqual(counts, { tasks: 1, events: 1, keys: 1 })
      const repository = yield* TaskRepository
      assert.deepStrictEqual(yield* repository.find(task.id), Option.some(task))
    })
  )
})
