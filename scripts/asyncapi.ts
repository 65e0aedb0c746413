/**
 * The AsyncAPI 3 document of Workstream's events, generated from the domain's event Schemas and the
 * RabbitMQ topology, never written by hand:
 *
 *   pnpm exec node scripts/asyncapi.ts           writes docs/asyncapi.yaml
 *   pnpm exec node scripts/asyncapi.ts --check   exits 1 when docs/asyncapi.yaml differs from what it would write
 *
 * Each v1 event type is one message whose payload is the JSON Schema Effect derives from its envelope
 * Schema (the JSON wire shape, `Schema.toCodecJson`), so the document cannot drift from the decoder.
 * The JSON Schema is for preliminary validation and documentation: the domain's `decodeEvent` stays the
 * authority (checks such as "payload.status matches the event type" have no JSON Schema form).
 */
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { JsonSchema, Schema } from "effect"
import { Document } from "yaml"
import {
  EventType,
  PRODUCER,
  TaskCancelledV1,
  TaskCompletedV1,
  TaskCreatedV1,
  TaskStartedV1
} from "../packages/domain/src/index.ts"
import * as Topology from "../packages/platform/src/Topology.ts"

export const DOCUMENT_PATH = "docs/asyncapi.yaml"
export const documentUrl = new URL(`../${DOCUMENT_PATH}`, import.meta.url)

/** The contract's version: its major follows the event types' version (`.v1`). */
const CONTRACT_VERSION = "1.0.0"
const AMQP_BINDING_VERSION = "0.3.0"

/** One entry per v1 event type: the Schema and what the event means. */
const EVENTS = [
  { schema: TaskCreatedV1, summary: "A task was created (status PENDING)." },
  { schema: TaskStartedV1, summary: "A task was started: PENDING -> IN_PROGRESS." },
  { schema: TaskCompletedV1, summary: "A task was completed: PENDING | IN_PROGRESS -> COMPLETED." },
  { schema: TaskCancelledV1, summary: "A task was cancelled: PENDING | IN_PROGRESS -> CANCELLED." }
] as const

type Json = string | number | boolean | null | ReadonlyArray<Json> | { readonly [key: string]: Json }

const isObject = (value: unknown): value is { readonly [key: string]: unknown } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** A JSON value from the JSON Schema compiler, with `#/definitions/X` references pointed at the components. */
const toJson = (value: unknown): Json => {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value
  if (typeof value === "number") return value
  if (Array.isArray(value)) return value.map(toJson)
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        key === "$ref" && typeof item === "string"
          ? item.replace(/^#\/definitions\//, "#/components/schemas/")
          : toJson(item)
      ])
    )
  }
  throw new Error(`not a JSON value in a generated JSON Schema: ${String(value)}`)
}

/** The event type a message carries, read from its Schema's `event_type` literal. */
const eventTypeOf = (schema: (typeof EVENTS)[number]["schema"]): EventType => schema.fields.event_type.literal

/** The identifier the Schema is annotated with (`TaskCreatedV1`): the message's and schema's key. */
const identifierOf = (document: JsonSchema.Document<"draft-07">): string => {
  const ref = document.schema.$ref
  if (typeof ref !== "string" || !ref.startsWith("#/definitions/")) {
    throw new Error("an event Schema must carry an identifier annotation, so that its JSON Schema is a definition")
  }
  return ref.slice("#/definitions/".length)
}

const ref = (path: string) => ({ $ref: path })

/** The whole AsyncAPI document as a plain object, in the order it is written. */
const asyncApiDocument = () => {
  const schemas: Record<string, Json> = {}
  const messages: Record<string, Json> = {}
  const eventTypes: Array<EventType> = []

  for (const event of EVENTS) {
    // Draft-07: the dialect AsyncAPI's default schema format (a superset of JSON Schema draft-07) builds on.
    const document = JsonSchema.toDocumentDraft07(Schema.toJsonSchemaDocument(event.schema))
    const id = identifierOf(document)
    for (const [name, definition] of Object.entries(document.definitions)) {
      const json = toJson(definition)
      const known = schemas[name]
      if (known !== undefined && JSON.stringify(known) !== JSON.stringify(json)) {
        throw new Error(`two different JSON Schemas are both named ${name}: give one of them another identifier`)
      }
      schemas[name] = json
    }
    const eventType = eventTypeOf(event.schema)
    eventTypes.push(eventType)
    messages[id] = {
      name: eventType,
      title: id,
      summary: event.summary,
      contentType: "application/json",
      headers: ref("#/components/schemas/AmqpHeaders"),
      correlationId: ref("#/components/correlationIds/traceId"),
      "x-message-id": {
        description: "The AMQP `message_id` property is the envelope's `event_id`: consumers deduplicate on it.",
        location: "$message.payload#/event_id"
      },
      payload: ref(`#/components/schemas/${id}`),
      bindings: { amqp: { messageType: eventType, bindingVersion: AMQP_BINDING_VERSION } }
    }
  }

  const missing = EventType.literals.filter((type) => !eventTypes.includes(type))
  if (missing.length > 0) throw new Error(`no Schema for the event types ${missing.join(", ")}`)

  schemas.AmqpHeaders = {
    type: "object",
    description: "AMQP application headers of every event message.",
    properties: {
      traceparent: {
        type: "string",
        description:
          "W3C Trace Context of the change that produced the event; its trace-id is the envelope's trace_id.",
        pattern: "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
      },
      tracestate: { type: "string", description: "W3C Trace Context vendor state, when the change carried one." }
    }
  }

  const topology = Topology.make()
  const queueBinding = (name: string) => ({
    amqp: {
      is: "queue",
      queue: { name, durable: true, exclusive: false, autoDelete: false, vhost: "/" },
      bindingVersion: AMQP_BINDING_VERSION
    }
  })
  const channelMessages = Object.fromEntries(
    Object.keys(messages).map((id) => [id, ref(`#/components/messages/${id}`)])
  )
  const operationMessages = (channel: string) =>
    Object.keys(messages).map((id) => ref(`#/channels/${channel}/messages/${id}`))

  const channels: Record<string, Json> = {
    taskEvents: {
      address: topology.exchange,
      title: "Task events",
      description:
        `Durable topic exchange. The routing key is the event type (workstream.task.<what>.v<n>); ` +
        `a v1 type never changes incompatibly, a breaking change is a new .v2 type beside it.`,
      servers: [ref("#/servers/rabbitmq")],
      messages: channelMessages,
      bindings: {
        amqp: {
          is: "routingKey",
          exchange: {
            name: topology.exchange,
            type: topology.exchangeType,
            durable: true,
            autoDelete: false,
            vhost: "/"
          },
          bindingVersion: AMQP_BINDING_VERSION
        }
      }
    },
    notifications: {
      address: topology.queue.name,
      title: "Notifications queue",
      description:
        `Quorum queue bound to ${topology.exchange} with ${topology.bindingKey}: every task event reaches it. ` +
        `Undecodable or invalid messages and messages whose retries are used up are dead-lettered to ` +
        `${topology.deadLetterQueue.name}.`,
      servers: [ref("#/servers/rabbitmq")],
      messages: channelMessages,
      bindings: queueBinding(topology.queue.name),
      "x-binding-key": topology.bindingKey,
      "x-queue-arguments": { ...topology.queue.arguments }
    },
    ...Object.fromEntries(
      topology.retryQueues.map((retry, index) => [
        `notificationsRetry${index + 1}`,
        {
          address: retry.name,
          title: `Notifications retry ${index + 1}`,
          description:
            `Delayed redelivery after failed attempt ${index + 1}: a message waits here for its TTL, then ` +
            `returns to ${topology.queue.name} through the default exchange.`,
          servers: [ref("#/servers/rabbitmq")],
          messages: channelMessages,
          bindings: queueBinding(retry.name),
          "x-queue-arguments": { ...retry.arguments }
        }
      ])
    ),
    deadLetters: {
      address: topology.deadLetterQueue.name,
      title: "Dead-letter queue",
      description:
        "Messages the consumer gave up on, body unchanged, with the reason (and attempts and last error) in " +
        "headers. A poison message here may not match any of the message schemas.",
      servers: [ref("#/servers/rabbitmq")],
      messages: channelMessages,
      bindings: queueBinding(topology.deadLetterQueue.name),
      "x-queue-arguments": { ...topology.deadLetterQueue.arguments }
    }
  }

  return {
    asyncapi: "3.0.0",
    info: {
      title: "Workstream task events",
      version: CONTRACT_VERSION,
      description:
        "Events a task emits as it moves through its lifecycle. The tasks service writes each one in the same " +
        "Postgres transaction as the change (transactional outbox) and its relay publishes it, persistent, " +
        "mandatory and with publisher confirms; the notifications service consumes it at least once and records " +
        "it exactly once (deduplicated on event_id).\n\n" +
        "Generated by scripts/asyncapi.ts from packages/domain/src/TaskEvent.ts and " +
        "packages/platform/src/Topology.ts: do not edit by hand."
    },
    defaultContentType: "application/json",
    servers: {
      rabbitmq: {
        host: "rabbitmq:5672",
        protocol: "amqp",
        protocolVersion: "0.9.1",
        description: "The RabbitMQ broker (the compose service `rabbitmq`; any broker AMQP_URL names)."
      }
    },
    channels,
    operations: {
      publishTaskEvent: {
        action: "send",
        channel: ref("#/channels/taskEvents"),
        title: "tasks publishes task events",
        summary: `The tasks service (producer "${PRODUCER}") publishes each committed event from its outbox, in commit order.`,
        messages: operationMessages("taskEvents"),
        bindings: { amqp: { deliveryMode: 2, mandatory: true, bindingVersion: AMQP_BINDING_VERSION } }
      },
      consumeTaskEvent: {
        action: "receive",
        channel: ref("#/channels/notifications"),
        title: "notifications consumes task events",
        summary:
          "The notifications service consumes with manual acks and a bounded prefetch: decode, validate, " +
          "deduplicate on event_id, record, ack.",
        messages: operationMessages("notifications"),
        bindings: { amqp: { ack: true, bindingVersion: AMQP_BINDING_VERSION } }
      }
    },
    components: {
      messages,
      schemas,
      correlationIds: {
        traceId: {
          description: "The W3C trace-id of the request that changed the task: follow it in the traces and the logs.",
          location: "$message.payload#/trace_id"
        }
      }
    }
  }
}

/** The document as written to docs/asyncapi.yaml: deterministic for the same Schemas. */
export const renderAsyncApi = (): string => {
  const document = new Document(asyncApiDocument(), { aliasDuplicateObjects: false })
  document.commentBefore =
    " Generated by scripts/asyncapi.ts from the domain's event Schemas: do not edit.\n" +
    " Regenerate with `pnpm exec node scripts/asyncapi.ts`; `--check` fails when this file is stale."
  // lineWidth 0: no folding, so a longer description never reflows unrelated lines.
  return document.toString({ lineWidth: 0 })
}

/** The first line where two texts differ, for a readable failure. */
export const firstDifference = (expected: string, actual: string): string | undefined => {
  const want = expected.split("\n")
  const have = actual.split("\n")
  for (let line = 0; line < Math.max(want.length, have.length); line++) {
    if (want[line] !== have[line]) {
      return `line ${line + 1}: expected ${JSON.stringify(want[line] ?? "<end of file>")}, found ${JSON.stringify(have[line] ?? "<end of file>")}`
    }
  }
  return undefined
}

const readCommitted = (): string | undefined => {
  try {
    return readFileSync(documentUrl, "utf8")
  } catch {
    return undefined
  }
}

const main = (args: ReadonlyArray<string>): number => {
  const generated = renderAsyncApi()
  if (args.includes("--check")) {
    const committed = readCommitted()
    if (committed === generated) {
      console.log(`${DOCUMENT_PATH} is up to date with the event Schemas.`)
      return 0
    }
    const where = committed === undefined ? "it does not exist" : firstDifference(generated, committed)
    console.error(
      `${DOCUMENT_PATH} is stale: it differs from what the event Schemas generate (${where}).\n` +
        "Run `pnpm exec node scripts/asyncapi.ts` and commit the result."
    )
    return 1
  }
  writeFileSync(documentUrl, generated)
  console.log(`wrote ${DOCUMENT_PATH}`)
  return 0
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2))
