/**
 * Golden v1 events: one realistic message per event type, as the tasks service publishes it. The
 * current decoder must accept every one of them and encode it back to the same JSON, so a change
 * to a `.v1` Schema can only be a compatible one; a breaking change needs a new `.v2` type (and a
 * golden file of its own) beside the v1 one, which stays.
 */
import { readdirSync, readFileSync } from "node:fs"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeEvent, EventType, encodeEvent } from "../../src/index.ts"

const goldenDir = new URL("./golden/", import.meta.url)
const fileOf = (eventType: string) => `${eventType}.json`
const files = readdirSync(goldenDir).filter((name) => name.endsWith(".json"))
const read = (name: string): string => readFileSync(new URL(name, goldenDir), "utf8")

describe("golden v1 events", () => {
  it("has a golden event for every event type, and none for a type that no longer exists", () => {
    expect([...files].sort()).toEqual(EventType.literals.map(fileOf).sort())
  })

  it("covers optional task fields both present and absent", () => {
    const payloads = files.map((name) => (JSON.parse(read(name)) as { payload: Record<string, unknown> }).payload)
    for (const field of ["description", "assignee", "due_at", "completed_at"]) {
      expect(
        payloads.some((payload) => field in payload),
        `${field} present in one`
      ).toBe(true)
    }
    for (const field of ["description", "assignee", "due_at"]) {
      expect(
        payloads.some((payload) => !(field in payload)),
        `${field} absent in one`
      ).toBe(true)
    }
  })

  describe.each(EventType.literals)("%s", (eventType) => {
    const text = () => read(fileOf(eventType))

    it("is decoded by the current decoder", () => {
      const decoded = decodeEvent(text())
      if (Result.isFailure(decoded)) expect.fail(`${fileOf(eventType)} no longer decodes: ${decoded.failure.reason}`)
      expect(Result.getOrThrow(decoded).event_type).toBe(eventType)
    })

    it("encodes back to the same JSON", () => {
      const decoded = Result.getOrThrow(decodeEvent(text()))
      expect(JSON.parse(encodeEvent(decoded))).toStrictEqual(JSON.parse(text()))
    })
  })
})
