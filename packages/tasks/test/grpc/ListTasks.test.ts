import { assert, layer } from "@effect/vitest"
import { type Task, TaskStatus } from "@workstream/proto"
import { Effect, Schema } from "effect"
import { call } from "../support/clients.ts"
import { TasksUnderTest } from "../support/harness.ts"

const Walk = Schema.Struct({
  pageSize: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 7 })),
  status: Schema.Literals([
    TaskStatus.TASK_STATUS_UNSPECIFIED,
    TaskStatus.TASK_STATUS_PENDING,
    TaskStatus.TASK_STATUS_IN_PROGRESS,
    TaskStatus.TASK_STATUS_CANCELLED
  ]),
  insertsBetweenPages: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2 }))
})

layer(TasksUnderTest.layer, { timeout: "60 seconds", excludeTestServices: true })("ListTasks pagination", (it) => {
  const service = Effect.service(TasksUnderTest)
  const create = (title: string) =>
    Effect.flatMap(service, ({ client }) =>
      call(client.createTask.bind(client), { title, priority: 0, idempotency_key: "" })
    )
  const page = (status: number, pageSize: number, pageToken: string) =>
    Effect.flatMap(service, ({ client }) =>
      call(client.listTasks.bind(client), { status: status as TaskStatus, page_size: pageSize, page_token: pageToken })
    )
  const all = (status: number) =>
    Effect.gen(function* () {
      const tasks: Array<Task> = []
      let token = ""
      do {
        const response = yield* page(status, 100, token)
        tasks.push(...response.tasks)
        token = response.next_page_token
      } while (token !== "")
      return tasks
    })

  it.effect("seeds tasks in every status", () =>
    Effect.gen(function* () {
      const { client } = yield* service
      for (let i = 0; i < 24; i++) {
        const { task } = yield* create(`Seed ${i}`)
        const id = task?.id ?? ""
        if (i % 3 === 1) yield* call(client.startTask.bind(client), { id })
        if (i % 3 === 2) yield* call(client.cancelTask.bind(client), { id })
      }
    })
  )

  it.effect.prop(
    "pages concatenate to exactly the filtered set in id order, with no duplicates or gaps, even with inserts between pages",
    [Walk],
    ([walk]) =>
      Effect.gen(function* () {
        const before = yield* all(walk.status)
        const seen: Array<Task> = []
        let token = ""
        let pages = 0
        do {
          assert.isBelow(++pages, 1_000, "pagination must end")
          const response = yield* page(walk.status, walk.pageSize, token)
          assert.isAtMost(response.tasks.length, walk.pageSize)
          seen.push(...response.tasks)
          token = response.next_page_token
          // Insert only while walking the tasks that existed at the start, so the walk ends, and
          // between the first pages only: each run's inserts are in every later run's set, and
          // inserting on every page of a one-task walk tripled that set per run.
          if (seen.length < before.length && pages <= 3) {
            for (let i = 0; i < walk.insertsBetweenPages; i++) yield* create("Inserted meanwhile")
          }
        } while (token !== "")
        const ids = seen.map((t) => t.id)
        assert.strictEqual(new Set(ids).size, ids.length, "no task twice")
        assert.deepStrictEqual(ids, [...ids].sort(), "in id (creation) order")
        const seenIds = new Set(ids)
        for (const task of before) assert.isTrue(seenIds.has(task.id), `task ${task.id} was skipped`)
        if (walk.status !== TaskStatus.TASK_STATUS_UNSPECIFIED) {
          for (const task of seen) assert.strictEqual(task.status, walk.status)
        }
      }),
    { timeout: 45_000, arbitrary: { runs: 15 } }
  )
})
