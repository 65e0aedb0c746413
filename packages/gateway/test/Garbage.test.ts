import { assert, layer } from "@effect/vitest"
import { Arbitrary, Effect, Schema } from "effect"
import { GatewayUnderTest, request } from "./support/gateway.ts"
import * as System from "./support/system.ts"

const int = (min: number, max: number) =>
  Arbitrary.schema(Schema.Int.check(Schema.isGreaterThanOrEqualTo(min), Schema.isLessThanOrEqualTo(max)))
const pick = <const A extends ReadonlyArray<unknown>>(values: A): Arbitrary.Arbitrary<A[number]> =>
  Arbitrary.map(int(0, values.length - 1), (i) => values[i])

/** Strings that break naive code: NUL, lone surrogates, RTL marks, emoji, boundary lengths. */
const nasty = Arbitrary.flatMap(
  pick(["text", "nul", "surrogate", "unicode", "long", "boundary", "empty", "huge"] as const),
  (kind) => {
    switch (kind) {
      case "text":
        return Arbitrary.schema(Schema.String)
      case "nul":
        return Arbitrary.map(Arbitrary.schema(Schema.String), (s) => `a\u0000${s}`)
      case "surrogate":
        return pick(["\ud800", "x\udfffy", "\udc00\ud800"])
      case "unicode":
        return pick(["😀".repeat(150), "\u202eevil", "e\u0301", "\ufeffbom", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"])
      case "long":
        return Arbitrary.map(int(195, 205), (n) => "t".repeat(n))
      case "boundary":
        return pick(["", " ", "\t\n", "x".repeat(10_000), "x".repeat(10_001)])
      case "empty":
        return Arbitrary.Constant("")
      case "huge":
        return Arbitrary.map(int(100_000, 300_000), (n) => "h".repeat(n))
    }
  }
)

const deep = Arbitrary.map(int(1, 2_000), (depth) => JSON.parse(`${"[".repeat(depth)}1${"]".repeat(depth)}`) as unknown)

/** A valid create with one field replaced: the garbage reaches the tasks service and its database. */
const createBody = Arbitrary.map(
  Arbitrary.all({
    field: pick(["title", "description", "priority", "assignee", "due_at", "status", "id"]),
    value: Arbitrary.flatMap(
      pick(["nasty", "odd"] as const),
      (k): Arbitrary.Arbitrary<unknown> =>
        k === "nasty"
          ? nasty
          : pick(["LOW", "low", 3, null, "", "not a date", "9999-99-99", "+275760-09-13T00:00:00Z", "COMPLETED"])
    )
  }),
  ({ field, value }) => ({ title: "A valid title", [field]: value })
)

/** Any JSON value, or one of the shapes an API is most likely to trip on. */
const value: Arbitrary.Arbitrary<unknown> = Arbitrary.flatMap(
  pick(["json", "nasty", "number", "deep", "object"] as const),
  (kind): Arbitrary.Arbitrary<unknown> => {
    switch (kind) {
      case "json":
        return Arbitrary.schema(Schema.Json)
      case "nasty":
        return nasty
      case "number":
        return pick([1e308, -1e308, 2 ** 53 + 1, -0, 0.1, 1e-320, 1.2345678901234568e29])
      case "deep":
        return deep
      case "object":
        return createBody
    }
  }
)

const path = Arbitrary.flatMap(
  pick(["tasks", "task", "transition", "random", "query"] as const),
  (kind): Arbitrary.Arbitrary<string> => {
    // Percent-encode every byte (lone surrogates become U+FFFD): encodeURIComponent would throw.
    const segment = Arbitrary.map(nasty, (s) => Buffer.from(s.slice(0, 300)).toString("hex").replace(/../g, "%$&"))
    switch (kind) {
      case "tasks":
        return Arbitrary.Constant("/api/v1/tasks")
      case "task":
        return Arbitrary.map(segment, (s) => `/api/v1/tasks/${s}`)
      case "transition":
        return Arbitrary.map(
          Arbitrary.all([
            pick(["01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90", "x", ""]),
            pick(["start", "complete", "cancel", "delete"])
          ]),
          ([id, action]) => `/api/v1/tasks/${id}/${action}`
        )
      case "random":
        return Arbitrary.map(segment, (s) => `/${s}`)
      case "query":
        return Arbitrary.map(
          Arbitrary.all([segment, segment, segment]),
          ([status, limit, cursor]) => `/api/v1/tasks?status=${status}&limit=${limit}&cursor=${cursor}`
        )
    }
  }
)

const garbageRequest = Arbitrary.all({
  method: pick(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
  path,
  contentType: pick(["application/json", "application/json; charset=utf-8", "text/plain", "", "application/xml"]),
  body: value,
  raw: pick([false, false, false, true])
})

layer(System.layerWith(), { timeout: "60 seconds", excludeTestServices: true })("REST API under garbage", (it) => {
  it.effect.prop(
    "no request, however malformed, gets a 5xx (the tasks service is up) and every error body is problem+json",
    [garbageRequest],
    ([garbage]) =>
      Effect.gen(function* () {
        const { url } = yield* Effect.service(GatewayUnderTest)
        const hasBody = garbage.method !== "GET" && garbage.method !== "OPTIONS"
        const json = JSON.stringify(garbage.body)
        // "raw": the JSON text cut in half, which is almost never valid JSON.
        const body = garbage.raw && json !== undefined ? json.slice(0, Math.floor(json.length / 2)) : json
        const reply = yield* request(`${url}${garbage.path}`, {
          method: garbage.method,
          headers: garbage.contentType === "" ? {} : { "content-type": garbage.contentType },
          ...(hasBody && body !== undefined ? { body } : {})
        })
        const described = `${garbage.method} ${garbage.path.slice(0, 120)} -> ${reply.status} ${reply.text.slice(0, 200)}`
        assert.isBelow(reply.status, 500, described)
        if (reply.status >= 400) {
          assert.strictEqual(reply.headers.get("content-type"), "application/problem+json", described)
          const problem = reply.json as { type?: unknown; title?: unknown; status?: unknown }
          assert.isString(problem.type, described)
          assert.strictEqual(problem.status, reply.status, described)
        }
      }),
    { timeout: 120_000, arbitrary: { runs: 300 } }
  )

  it.effect.prop(
    "no create body, however malformed, gets a 5xx: bad text is a 400 before it reaches the database",
    [createBody],
    ([body]) =>
      Effect.gen(function* () {
        const { url } = yield* Effect.service(GatewayUnderTest)
        const reply = yield* request(`${url}/api/v1/tasks`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body)
        })
        const described = `${JSON.stringify(body).slice(0, 160)} -> ${reply.status} ${reply.text.slice(0, 200)}`
        assert.isTrue(reply.status === 201 || reply.status === 400, described)
      }),
    { timeout: 120_000, arbitrary: { runs: 300 } }
  )
})
