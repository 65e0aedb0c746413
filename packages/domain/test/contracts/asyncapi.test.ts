/**
 * docs/asyncapi.yaml is generated from the event Schemas by scripts/asyncapi.ts. This fails when the
 * committed file is stale (a Schema changed and nobody regenerated it), and checks the shape every
 * reader of the document relies on: AsyncAPI 3.0.0, one message per event type named by its routing
 * key, envelopes that require their fields, and the exchange and queue of the RabbitMQ topology.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { DOCUMENT_PATH, documentUrl, firstDifference, renderAsyncApi } from "../../../../scripts/asyncapi.ts"
import { EventType } from "../../src/index.ts"

type Node = { readonly [key: string]: unknown }

const isNode = (value: unknown): value is Node => typeof value === "object" && value !== null && !Array.isArray(value)

const node = (value: unknown, where: string): Node => {
  if (!isNode(value)) throw new Error(`${where} is not a mapping`)
  return value
}

const committed = readFileSync(documentUrl, "utf8")
const document = node(parse(committed), DOCUMENT_PATH)

/** Follows a local `$ref` (`#/components/schemas/X`) to what it names. */
const resolve = (value: unknown, where: string): Node => {
  const target = node(value, where)
  const ref = target.$ref
  if (typeof ref !== "string") return target
  return resolve(
    ref
      .replace(/^#\//, "")
      .split("/")
      .reduce<unknown>((at, key) => node(at, `${ref} (at ${key})`)[key], document),
    ref
  )
}

const components = node(document.components, "components")
const messages = Object.entries(node(components.messages, "components.messages")).map(([key, message]) => ({
  key,
  message: node(message, `components.messages.${key}`)
}))

describe(DOCUMENT_PATH, () => {
  it("is what scripts/asyncapi.ts generates from the current Schemas (else: pnpm exec node scripts/asyncapi.ts)", () => {
    const generated = renderAsyncApi()
    expect(firstDifference(generated, committed), `${DOCUMENT_PATH} is stale`).toBeUndefined()
  })

  it("generates the same text every time", () => {
    expect(renderAsyncApi()).toBe(renderAsyncApi())
  })

  it("is an AsyncAPI 3.0.0 document with a version", () => {
    expect(document.asyncapi).toBe("3.0.0")
    expect(node(document.info, "info").version).toMatch(/^\d+\.\d+\.\d+$/)
    expect(node(node(document.servers, "servers").rabbitmq, "servers.rabbitmq").protocol).toBe("amqp")
  })

  it("has exactly one message per event type, named by its routing key", () => {
    const names = messages.map(({ message }) => message.name)
    expect([...names].sort()).toEqual([...EventType.literals].sort())
  })

  it.each(EventType.literals)("%s: the payload requires the envelope and carries trace and id locations", (type) => {
    const found = messages.find(({ message }) => message.name === type)
    if (found === undefined) return expect.fail(`no message named ${type}`)
    const payload = resolve(found.message.payload, `${found.key}.payload`)
    expect(payload.type).toBe("object")
    expect(payload.required).toEqual(expect.arrayContaining(["event_id", "event_type", "occurred_at", "payload"]))
    const properties = node(payload.properties, `${found.key}.payload.properties`)
    expect(node(properties.event_type, "event_type").enum).toEqual([type])
    expect(resolve(found.message.correlationId, "correlationId").location).toBe("$message.payload#/trace_id")
    expect(node(found.message["x-message-id"], "x-message-id").location).toBe("$message.payload#/event_id")
    const headers = resolve(found.message.headers, `${found.key}.headers`)
    expect(Object.keys(node(headers.properties, "headers.properties"))).toContain("traceparent")
  })

  it("binds the topic exchange for sending and the notifications queue for receiving", () => {
    const channels = node(document.channels, "channels")
    const operations = Object.values(node(document.operations, "operations")).map((op) => node(op, "operation"))
    const channelOf = (action: string) => {
      const operation = operations.find((op) => op.action === action)
      if (operation === undefined) throw new Error(`no ${action} operation`)
      return node(node(resolve(operation.channel, `${action}.channel`).bindings, "bindings").amqp, "amqp")
    }
    expect(channelOf("send").exchange).toMatchObject({ name: "workstream.events", type: "topic", durable: true })
    expect(channelOf("receive").queue).toMatchObject({ name: "workstream.notifications", durable: true })
    const addresses = Object.values(channels).map((channel) => node(channel, "channel").address)
    expect(addresses).toContain("workstream.notifications.dlq")
  })
})
