import { assert, layer } from "@effect/vitest"
import { NewTask, type Task, TaskJson, TaskStatus } from "@workstream/domain"
import { Arbitrary, DateTime, Effect, Layer, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { TaskChanges } from "../../src/db/TaskChanges.ts"
import { TaskRepository } from "../../src/db/TaskRepository.ts"
import { createOne, TestDatabase } from "../support/database.ts"
import { created, type Transition, taskThrough, timeline } from "../support/fixtures.ts"

const Repository = Layer.mergeAll(TaskRepository.layer, TaskChanges.layer).pipe(
  Layer.provideMerge(TestDatabase.layerWith({ maxConnections: 10 }))
)

const encode = Schema.encodeSync(TaskJson)
/** Compares tasks by their wire form: every field, to the millisecond, and which optional keys are present. */
const assertSameTask = (actual: Task, expected: Task) => assert.deepStrictEqual(encode(actual), encode(expected))

// The domain bounds due_at to years 0001..9999; the property maps any generated instant into that range.
const STORABLE_MIN = Date.parse("0001-01-01T00:00:00.000Z")
const STORABLE_MAX = Date.parse("9999-12-31T23:59:59.999Z")
const storable = (at: DateTime.Utc): DateTime.Utc => {
  const ms = DateTime.toEpochMillis(at)
  if (ms >= STORABLE_MIN && ms <= STORABLE_MAX) return at
  return DateTime.makeUnsafe(STORABLE_MIN + (Math.abs(ms) % (STORABLE_MAX - STORABLE_MIN)))
}

const paths: ReadonlyArray<ReadonlyArray<Transition>> = [
  [],
  ["start"],
  ["complete"],
  ["start", "complete"],
  ["cancel"],
  ["start", "cancel"]
]
const RoundTrip = Arbitrary.all({
  fields: Arbitrary.map(Arbitrary.schema(NewTask), ({ due_at, ...fields }) =>
    due_at === undefined ? fields : { ...fields, due_at: storable(due_at) }
  ),
  path: Arbitrary.map(
    Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 5 }))),
    (i) => paths[i] ?? []
  )
})

const Walk = Schema.Struct({
  pageSize: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 7 })),
  status: Schema.optionalKey(TaskStatus),
  insertsBetweenPages: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 }))
})

layer(Repository, { excludeTestServices: true, timeout: "60 seconds" })("TaskRepository", (it) => {
  const now = timeline()
  const repository = Effect.service(TaskRepository)
  /** Stores a task as the service writes one (its row; its events are not what this file is about). */
  const insert = (task: Task) => createOne(task, [])

  it.effect("finds nothing for an id it never stored", () =>
    Effect.gen(function* () {
      const { task } = yield* created(yield* now)
      assert.isTrue(Option.isNone(yield* (yield* repository).find(task.id)))
    })
  )

  it.effect.prop(
    "insert then find gives back the same task: every field, timestamps to the millisecond, optional fields absent or present",
    [RoundTrip],
    ([{ fields, path }]) =>
      Effect.gen(function* () {
        const repo = yield* repository
        const task = yield* taskThrough(yield* now, path, fields)
        yield* insert(task)
        const found = yield* repo.find(task.id)
        assert.isTrue(Option.isSome(found))
        if (Option.isSome(found)) assertSameTask(found.value, task)
      }),
    { timeout: 30_000, arbitrary: { runs: 100 } }
  )

  it.effect(
    "due_at round-trips exactly across the domain's range (years 0001..9999), where a float conversion would round",
    () =>
      Effect.gen(function* () {
        const repo = yield* repository
        const instants = [
          Date.parse("0001-01-01T00:00:00.000Z"),
          -1,
          Date.parse("1999-12-31T23:59:59.999Z"),
          Date.parse("7820-12-18T00:08:11.425Z"),
          Date.parse("9999-12-31T23:59:59.999Z")
        ]
        for (const ms of instants) {
          const task = yield* taskThrough(yield* now, [], { title: "Edge", due_at: DateTime.makeUnsafe(ms) })
          yield* insert(task)
          const found = Option.getOrThrow(yield* repo.find(task.id))
          assert.strictEqual(found.due_at && DateTime.toEpochMillis(found.due_at), ms, new Date(ms).toISOString())
        }
      })
  )

  it.effect("stores every optional field when present and NULL when absent", () =>
    Effect.gen(function* () {
      const repo = yield* repository
      const sql = yield* SqlClient.SqlClient
      const bare = yield* taskThrough(yield* now, [])
      const full = yield* taskThrough(yield* now, ["complete"], {
        title: "  Write the report  ",
        description: "",
        assignee: "alice",
        priority: "URGENT",
        due_at: DateTime.makeUnsafe("2027-01-31T23:59:59.999Z")
      })
      yield* insert(bare)
      yield* insert(full)
      const rows = yield* sql<{ id: string; nulls: number }>`
        SELECT id::text AS id,
               num_nulls(description, assignee, due_at, completed_at) AS nulls
        FROM tasks WHERE id IN ${sql.in([bare.id, full.id])}`
      const nulls = new Map(rows.map((row) => [row.id, row.nulls]))
      assert.strictEqual(nulls.get(bare.id), 4)
      assert.strictEqual(nulls.get(full.id), 0)
      const found = Option.getOrThrow(yield* repo.find(full.id))
      assert.strictEqual(found.title, "Write the report")
      assert.strictEqual(found.description, "")
      assert.isFalse("description" in Option.getOrThrow(yield* repo.find(bare.id)))
    })
  )

  it.effect("the database refuses a status outside the four (the CHECK constraint)", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const task = yield* taskThrough(yield* now, [])
      const error = yield* Effect.flip(sql`
        INSERT INTO tasks (id, title, status, priority, created_at, updated_at, version)
        VALUES (${task.id}, 'x', 'DONE', 'LOW', now(), now(), 1)`)
      assert.strictEqual(error._tag, "SqlError")
    })
  )

  // Pagination: a seeded set of tasks in every status, then walks of random page sizes.
  const all = (status: TaskStatus | undefined) =>
    Effect.flatMap(repository, (repo) => repo.list({ limit: 100_000, ...(status === undefined ? {} : { status }) }))

  it.effect("seeds tasks in every status", () =>
    Effect.gen(function* () {
      for (let i = 0; i < 40; i++) {
        const task = yield* taskThrough(yield* now, paths[i % paths.length] ?? [])
        yield* insert(task)
        // Keep the instants of transitions (ms + 1, ms + 2) clear of the next task's.
        yield* now
        yield* now
      }
      for (const status of TaskStatus.literals) assert.isAbove((yield* all(status)).length, 0, status)
    })
  )

  it.effect.prop(
    "pages concatenate to exactly the filtered set in id order, no duplicates or gaps, even with inserts between pages",
    [Walk],
    ([walk]) =>
      Effect.gen(function* () {
        const repo = yield* repository
        const before = yield* all(walk.status)
        const seen: Array<Task> = []
        let after: Task["id"] | undefined
        let pages = 0
        while (true) {
          assert.isAtMost(++pages, before.length + 20, "pagination must end")
          const page = yield* repo.list({
            limit: walk.pageSize,
            ...(walk.status === undefined ? {} : { status: walk.status }),
            ...(after === undefined ? {} : { after })
          })
          assert.isAtMost(page.length, walk.pageSize)
          seen.push(...page)
          if (page.length < walk.pageSize) break
          after = page[page.length - 1]?.id
          // New tasks get larger ids, so they land after the cursor. Only after the first pages, and only while
          // tasks that existed at the start remain unseen: the walk ends, and the table stays small across runs.
          if (pages <= 3 && seen.length < before.length) {
            for (let i = 0; i < walk.insertsBetweenPages; i++) {
              yield* insert((yield* created(yield* now)).task)
            }
          }
        }
        const ids = seen.map((task) => task.id)
        for (let i = 1; i < ids.length; i++) {
          assert.isTrue((ids[i - 1] ?? "") < (ids[i] ?? ""), "strictly increasing ids: in order, none twice")
        }
        const seenIds = new Set(ids)
        for (const task of before) assert.isTrue(seenIds.has(task.id), `task ${task.id} was skipped`)
        if (walk.status !== undefined) for (const task of seen) assert.strictEqual(task.status, walk.status)
        // Every insert happened before the last page was read, so the walk saw exactly today's filtered set.
        assert.deepStrictEqual(
          ids,
          (yield* all(walk.status)).map((task) => task.id)
        )
      }),
    { timeout: 45_000, arbitrary: { runs: 40 } }
  )
})
