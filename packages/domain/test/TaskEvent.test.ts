import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { decodeEvent, encodeEvent, TaskJson } from "../src/index.ts"
import { envelopes, pick, tasks } from "./arbitraries.ts"

const encodeTask = Schema.encodeSync(TaskJson)
const decodeTask = Schema.decodeUnknownSync(TaskJson)

/** Ways a message can be wrong, each applied to a valid encoded event. */
const MUTATIONS: ReadonlyArray<readonly [string, (event: Record<string, unknown>) => unknown]> = [
  ["not JSON", () => "{not json"],
  ["not an object", () => [1, 2, 3]],
  ["no event_id", ({ event_id: _, ...rest }) => rest],
  ["event_id not a UUID", (e) => ({ ...e, event_id: "42" })],
  ["unknown event_type", (e) => ({ ...e, event_type: "workstream.task.deleted.v1" })],
  ["v2 event_type", (e) => ({ ...e, event_type: String(e.event_type).replace(".v1", ".v2") })],
  ["occurred_at not a date", (e) => ({ ...e, occurred_at: "yesterday" })],
  ["wrong producer", (e) => ({ ...e, producer: "someone-else" })],
  ["trace_id too short", (e) => ({ ...e, trace_id: "abc" })],
  ["trace_id all zero", (e) => ({ ...e, trace_id: "0".repeat(32) })],
  ["no payload", ({ payload: _, ...rest }) => rest],
  ["payload title blank", (e) => ({ ...e, payload: { ...(e.payload as object), title: "  " } })],
  ["payload version zero", (e) => ({ ...e, payload: { ...(e.payload as object), version: 0 } })],
  ["payload status unknown", (e) => ({ ...e, payload: { ...(e.payload as object), status: "DONE" } })],
  [
    "payload status does not match the event type",
    (e) => ({
      ...e,
      payload: {
        ...(e.payload as object),
        status: e.event_type === "workstream.task.created.v1" ? "CANCELLED" : "PENDING"
      }
    })
  ]
]

const mutation = pick(MUTATIONS)

describe("wire format", () => {
  it.prop("encode -> decode round-trips tasks", [tasks], ([all]) => {
    for (const task of all) {
      const text = JSON.stringify(encodeTask(task))
      assert.deepStrictEqual(decodeTask(JSON.parse(text)), task)
    }
  })

  it.prop("encode -> decode round-trips events", [envelopes], ([all]) => {
    for (const event of all) {
      assert.deepStrictEqual(Result.getOrThrow(decodeEvent(encodeEvent(event))), event)
    }
  })

  it.prop("decode rejects every malformed event with a reason", [envelopes, mutation], ([all, [name, mutate]]) => {
    for (const event of all) {
      const mutated = mutate(JSON.parse(encodeEvent(event)))
      const result = decodeEvent(typeof mutated === "string" ? mutated : JSON.stringify(mutated))
      assert.isTrue(Result.isFailure(result), `accepted an event with ${name}`)
      if (Result.isFailure(result)) assert.isAbove(result.failure.reason.length, 0)
    }
  })

  it("encodes an event to the exact v1 JSON shape: snake_case keys and ISO 8601 UTC timestamps", () => {
    const text = JSON.stringify({
      event_id: "01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f91",
      event_type: "workstream.task.completed.v1",
      occurred_at: "2026-11-22T10:05:00.000Z",
      producer: "workstream-tasks",
      trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
      payload: {
        id: "01932c07-a5b0-7c3e-9f2a-4b5c6d7e8f90",
        title: "Ship it",
        status: "COMPLETED",
        priority: "HIGH",
        due_at: "2026-12-01T00:00:00.000Z",
        created_at: "2026-11-22T10:00:00.000Z",
        updated_at: "2026-11-22T10:05:00.000Z",
        completed_at: "2026-11-22T10:05:00.000Z",
        version: 2
      }
    })
    const event = Result.getOrThrow(decodeEvent(text))
    assert.deepStrictEqual(JSON.parse(encodeEvent(event)), JSON.parse(text))
  })

  it("names the field and the rule when it rejects an event", () => {
    const result = decodeEvent(JSON.stringify({ event_type: "workstream.task.created.v1" }))
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) {
      const paths = result.failure.problems.map((p) => p.path)
      assert.includeMembers(paths, ["event_id", "occurred_at", "producer", "trace_id", "payload"])
    }
  })
})
