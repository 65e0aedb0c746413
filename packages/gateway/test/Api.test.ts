import { connect } from "node:net"
import { assert, layer } from "@effect/vitest"
import { databaseOf } from "@workstream/tasks/testing"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { GatewayUnderTest, postJson, type Reply, request } from "./support/gateway.ts"
import * as System from "./support/system.ts"

const UNKNOWN_ID = "01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90"
const PROBLEM = "application/problem+json"

interface TaskBody {
  readonly id: string
  readonly title: string
  readonly status: string
  readonly version: number
  readonly completed_at?: string
}
const asTask = (json: unknown) => json as TaskBody

layer(System.layerWith(), { timeout: "60 seconds", excludeTestServices: true })("REST API end to end", (it) => {
  const base = Effect.map(Effect.service(GatewayUnderTest), (g) => `${g.url}/api/v1/tasks`)
  const create = (body: unknown, headers: Record<string, string> = {}) =>
    Effect.flatMap(base, (url) => postJson(url, body, headers))

  it.effect("POST creates a task: 201, Location, the task as snake_case JSON; unknown fields are ignored", () =>
    Effect.gen(function* () {
      const url = yield* base
      const reply = yield* create({
        title: " Write the report ",
        priority: "HIGH",
        due_at: "2026-12-01T09:00:00Z",
        id: "client-chosen",
        status: "COMPLETED",
        version: 99,
        created_at: "2000-01-01T00:00:00Z"
      })
      assert.strictEqual(reply.status, 201)
      const task = asTask(reply.json)
      assert.strictEqual(reply.headers.get("location"), `/api/v1/tasks/${task.id}`)
      assert.strictEqual(task.title, "Write the report")
      assert.strictEqual(task.status, "PENDING")
      assert.strictEqual(task.version, 1)
      assert.notStrictEqual(task.id, "client-chosen")
      assert.include(reply.text, '"due_at":"2026-12-01T09:00:00.000Z"')
      const fetched = yield* request(`${url}/${task.id}`)
      assert.strictEqual(fetched.status, 200)
      assert.deepStrictEqual(fetched.json, reply.json)
    })
  )

  it.effect("start, complete, complete again (200 both times), then cancel is 409", () =>
    Effect.gen(function* () {
      const url = yield* base
      const { id } = asTask((yield* create({ title: "Move me" })).json)
      const started = yield* request(`${url}/${id}/start`, { method: "POST" })
      assert.strictEqual(asTask(started.json).status, "IN_PROGRESS")
      const completed = yield* request(`${url}/${id}/complete`, { method: "POST" })
      assert.strictEqual(completed.status, 200)
      const again = yield* request(`${url}/${id}/complete`, { method: "POST" })
      assert.strictEqual(again.status, 200)
      assert.deepStrictEqual(again.json, completed.json)
      const cancel = yield* request(`${url}/${id}/cancel`, { method: "POST" })
      assert.strictEqual(cancel.status, 409)
      assert.strictEqual(cancel.headers.get("content-type"), PROBLEM)
      assert.strictEqual((cancel.json as { type: string }).type, "urn:workstream:problem:invalid-transition")
    })
  )

  it.effect("the same Idempotency-Key twice makes one task; with another body it is 409", () =>
    Effect.gen(function* () {
      const key = `k-${Date.now()}`
      const first = yield* create({ title: "Once" }, { "idempotency-key": key })
      const second = yield* create({ title: "Once" }, { "idempotency-key": key })
      assert.strictEqual(asTask(second.json).id, asTask(first.json).id)
      const conflict = yield* create({ title: "Other" }, { "idempotency-key": key })
      assert.strictEqual(conflict.status, 409)
      assert.strictEqual((conflict.json as { type: string }).type, "urn:workstream:problem:idempotency-key-reused")
    })
  )

  it.effect("GET lists with limit and cursor: pages concatenate in creation order, filtered by status", () =>
    Effect.gen(function* () {
      const url = yield* base
      const created: Array<string> = []
      for (let i = 0; i < 5; i++) {
        const { id } = asTask((yield* create({ title: `Page ${i}` })).json)
        created.push(id)
        yield* request(`${url}/${id}/start`, { method: "POST" })
      }
      const seen: Array<string> = []
      let cursor: string | null = null
      do {
        const query: string = `?status=IN_PROGRESS&limit=2${cursor === null ? "" : `&cursor=${cursor}`}`
        const page = yield* request(`${url}${query}`)
        assert.strictEqual(page.status, 200)
        const body = page.json as { items: Array<TaskBody>; next_cursor: string | null }
        assert.isAtMost(body.items.length, 2)
        for (const item of body.items) assert.strictEqual(item.status, "IN_PROGRESS")
        seen.push(...body.items.map((t) => t.id))
        cursor = body.next_cursor
      } while (cursor !== null)
      assert.includeMembers(seen, created)
      assert.deepStrictEqual(seen, [...seen].sort())
    })
  )

  it.effect("X-Request-Id is echoed, or generated when absent", () =>
    Effect.gen(function* () {
      const url = yield* base
      const echoed = yield* request(url, { headers: { "x-request-id": "req-123" } })
      assert.strictEqual(echoed.headers.get("x-request-id"), "req-123")
      const generated = yield* request(url)
      assert.match(generated.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/)
    })
  )

  it.effect("every error is problem+json with a stable type, the status and, for validation, every field", () =>
    Effect.gen(function* () {
      const { url: root } = yield* Effect.service(GatewayUnderTest)
      const url = `${root}/api/v1/tasks`
      const cases: ReadonlyArray<readonly [string, Effect.Effect<Reply, never, GatewayUnderTest>, number]> = [
        [
          "malformed JSON",
          request(url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"title":' }),
          400
        ],
        ["schema violations", create({ title: "  ", priority: "SOON", description: 5 }), 400],
        ["bad id", request(`${url}/42`), 400],
        ["bad limit", request(`${url}?limit=0`), 400],
        ["bad status filter", request(`${url}?status=DONE`), 400],
        ["foreign cursor", request(`${url}?cursor=bogus`), 400],
        ["unknown task", request(`${url}/${UNKNOWN_ID}`), 404],
        ["transition of an unknown task", request(`${url}/${UNKNOWN_ID}/start`, { method: "POST" }), 404],
        ["unknown route", request(`${root}/api/v2/things`), 404],
        ["wrong method", request(url, { method: "DELETE" }), 405],
        [
          "wrong content type",
          request(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "title=x" }),
          415
        ]
      ]
      for (const [name, call, status] of cases) {
        const reply = yield* call
        assert.strictEqual(reply.status, status, name)
        assert.strictEqual(reply.headers.get("content-type"), PROBLEM, name)
        const body = reply.json as { type?: unknown; title?: unknown; status?: unknown }
        assert.isString(body.type, name)
        assert.isString(body.title, name)
        assert.strictEqual(body.status, status, name)
        assert.notMatch(reply.text, /at \w+ \(|node:internal|SqlError|127\.0\.0\.1|localhost/, name)
      }
      const foreign = (yield* request(`${url}?cursor=bogus`)).json as {
        errors: Array<{ path: string; message: string }>
      }
      assert.deepStrictEqual(
        foreign.errors.map((e) => e.path),
        ["query.cursor"],
        "a foreign cursor is named as the API names it"
      )
      const violations = (yield* create({ title: "  ", priority: "SOON", description: 5 })).json as {
        errors: Array<{ path: Array<string>; message: string }>
      }
      assert.deepStrictEqual(violations.errors.map((e) => e.path.join(".")).sort(), [
        "payload.description",
        "payload.priority",
        "payload.title"
      ])
      const wrongMethod = yield* request(url, { method: "DELETE" })
      assert.strictEqual(wrongMethod.headers.get("allow"), "POST, GET")
    })
  )

  it.effect("a body over 1 MiB is 413, with Content-Length and chunked alike", () =>
    Effect.gen(function* () {
      const url = yield* base
      const big = JSON.stringify({ title: "x", description: "d".repeat(1024 * 1024) })
      const declared = yield* request(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: big
      })
      assert.strictEqual(declared.status, 413)
      assert.strictEqual(declared.headers.get("content-type"), PROBLEM)
      const chunks = new ReadableStream({
        start(controller) {
          for (let i = 0; i < 20; i++)
            controller.enqueue(new TextEncoder().encode(big.slice(i * 60_000, (i + 1) * 60_000)))
          controller.enqueue(new TextEncoder().encode(big.slice(20 * 60_000)))
          controller.close()
        }
      })
      const chunked = yield* request(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: chunks,
        duplex: "half"
      } as RequestInit)
      assert.strictEqual(chunked.status, 413)
      assert.strictEqual(chunked.headers.get("content-type"), PROBLEM)
    })
  )

  it.effect(
    "/openapi.json documents every route; /docs serves the reference page (loaded on first visit); /healthz and /readyz answer",
    () =>
      Effect.gen(function* () {
        const { url } = yield* Effect.service(GatewayUnderTest)
        const openapi = (yield* request(`${url}/openapi.json`)).json as {
          paths: Record<string, Record<string, unknown>>
        }
        assert.hasAllKeys(openapi.paths, [
          "/api/v1/tasks",
          "/api/v1/tasks/{id}",
          "/api/v1/tasks/{id}/complete",
          "/api/v1/tasks/{id}/start",
          "/api/v1/tasks/{id}/cancel"
        ])
        assert.hasAllKeys(openapi.paths["/api/v1/tasks"] ?? {}, ["get", "post"])
        const docs = yield* request(`${url}/docs`)
        assert.strictEqual(docs.status, 200)
        assert.include(docs.headers.get("content-type") ?? "", "text/html")
        // The page carries Scalar's script itself (no CDN) and documents this API.
        assert.include(docs.text, "Scalar.createApiReference")
        assert.notMatch(docs.text, /<script src=/)
        assert.include(docs.text, "/api/v1/tasks/{id}/complete")
        assert.strictEqual((yield* request(`${url}/docs`)).text, docs.text)
        assert.strictEqual((yield* request(`${url}/healthz`)).status, 200)
        const ready = yield* request(`${url}/readyz`)
        assert.strictEqual(ready.status, 200)
        assert.deepStrictEqual(ready.json, { status: "ready", dependencies: { tasks: { status: "up" } } })
      })
  )

  it.effect("traceparent reaches the tasks service: the outbox row and the event's trace_id carry it", () =>
    Effect.gen(function* () {
      const { databaseUrl } = yield* Effect.service(GatewayUnderTest)
      const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      const { id } = asTask((yield* create({ title: "Traced" }, { traceparent })).json)
      const rows = yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{
          traceparent: string
          body: string
        }>`SELECT traceparent, body FROM outbox WHERE task_id = ${id}`
      }).pipe(Effect.provide(databaseOf(databaseUrl)))
      assert.match(rows[0]?.traceparent ?? "", /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/)
      assert.include(rows[0]?.body ?? "", '"trace_id":"0af7651916cd43dd8448eb211c80319c"')
    })
  )

  it.effect("/metrics counts requests by route template, method and status", () =>
    Effect.gen(function* () {
      const { url } = yield* Effect.service(GatewayUnderTest)
      yield* request(`${url}/api/v1/tasks/${UNKNOWN_ID}`)
      const metrics = yield* request(`${url}/metrics`)
      assert.match(
        metrics.text,
        /http_server_requests_total\{[^}]*route="\/api\/v1\/tasks\/:id"[^}]*status="404"[^}]*\} [1-9]/
      )
      assert.include(metrics.text, "http_server_duration_seconds")
      assert.notInclude(metrics.text, UNKNOWN_ID)
    })
  )

  /** Writes a raw HTTP/1.1 request (bytes fetch refuses to send); the server closes after answering. */
  const raw = (head: Buffer) =>
    Effect.flatMap(Effect.service(GatewayUnderTest), ({ url }) =>
      Effect.promise(
        () =>
          new Promise<string>((resolve) => {
            const socket = connect(Number(new URL(url).port), "127.0.0.1", () => socket.write(head))
            let text = ""
            socket.on("data", (chunk) => {
              text += chunk
            })
            socket.on("close", () => resolve(text))
          })
      )
    )

  it.effect(
    "hostile correlation headers (non-ASCII bytes) are dropped, not forwarded: the request still succeeds",
    () =>
      Effect.gen(function* () {
        const response = yield* raw(
          Buffer.concat([
            Buffer.from("GET /api/v1/tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\ntraceparent: "),
            Buffer.from([0xe9]),
            Buffer.from("\r\ntracestate: k="),
            Buffer.from([0xff]),
            Buffer.from("\r\n\r\n")
          ])
        )
        assert.match(response, /^HTTP\/1\.1 200/)
      })
  )

  it.effect("a request target URL cannot parse still gets problem+json, not an empty 500", () =>
    Effect.gen(function* () {
      const response = yield* raw(Buffer.from("GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
      assert.match(response, /^HTTP\/1\.1 4\d\d/)
      assert.include(response.toLowerCase(), "application/problem+json")
    })
  )
})
