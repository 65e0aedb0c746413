import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Tracing } from "@workstream/platform"
import { ConfigProvider, Effect, Layer } from "effect"
import * as Embedded from "../src/Embedded.ts"
import { awaitNotifications, awaitReady, completeTask, createTask, systemPorts } from "./support.ts"

const exporter = new InMemorySpanExporter()

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

/** The spans of one trace, found by name; fails the test when one is missing. */
const inTrace = (traceId: string) => {
  const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId)
  const named = (name: string, where: (s: ReadableSpan) => boolean = () => true) => {
    const found = spans.find((s) => s.name === name && where(s))
    assert.isDefined(found, `a "${name}" span in trace ${traceId}; have: ${spans.map((s) => s.name).join(", ")}`)
    return found as ReadableSpan
  }
  const descendsFrom = (span: ReadableSpan, ancestor: ReadableSpan): boolean => {
    const parent = spans.find((s) => s.spanContext().spanId === parentOf(span))
    return parent !== undefined && (parent === ancestor || descendsFrom(parent, ancestor))
  }
  return { spans, named, descendsFrom }
}

/** Every span of a change, from the REST call to the record, checked as one trace. */
const assertOneTrace = (rpc: string, route: string, command: "Tasks.create" | "Tasks.transition") => {
  const client = exporter
    .getFinishedSpans()
    .find((s) => s.name === `workstream.tasks.v1.TasksService/${rpc}` && s.kind === 2 /* CLIENT */)
  assert.isDefined(client, `the gateway's ${rpc} client span`)
  const trace = inTrace(client?.spanContext().traceId ?? "")
  const http = trace.named(`POST ${route}`, (s) => s.kind === 1 /* SERVER */ && parentOf(s) === undefined)
  assert.strictEqual(
    parentOf(client as ReadableSpan),
    http.spanContext().spanId,
    "the gRPC call is under the HTTP span"
  )
  const server = trace.named(`workstream.tasks.v1.TasksService/${rpc}`, (s) => s.kind === 1 /* SERVER */)
  assert.strictEqual(parentOf(server), client?.spanContext().spanId, "tasks' server span is the client span's child")
  const decided = trace.named(command)
  assert.isTrue(trace.descendsFrom(decided, server), "the command is under the RPC")
  const write = trace.named(command === "Tasks.create" ? "CreateBatcher.create" : "TaskChanges.update")
  assert.strictEqual(parentOf(write), decided.spanContext().spanId, "the change is written by the command")
  // A create's statement may carry the creates beside it: it has a trace of its own, linked to each create.
  const shared = exporter
    .getFinishedSpans()
    .find(
      (s) => s.name === "CreateBatcher.write" && s.links.some((l) => l.context.spanId === write.spanContext().spanId)
    )
  if (command === "Tasks.create") assert.isDefined(shared, "the create's statement links to the create")
  const [statementTrace, statementRoot] =
    shared === undefined ? [trace, server] : [inTrace(shared.spanContext().traceId), shared]
  const statements = statementTrace.spans.filter((s) => s.name === "postgres")
  assert.isAtLeast(statements.length, 1, "the statements' spans are in the trace")
  for (const statement of statements) {
    assert.isTrue(statementTrace.descendsFrom(statement, statementRoot), "SQL spans under the RPC or the shared write")
  }
  const create = trace.named("create workstream.events")
  assert.strictEqual(parentOf(create), decided.spanContext().spanId, "create joins the command that made the event")
  const processing = trace.named("process workstream.notifications", (s) => parentOf(s) === create.spanContext().spanId)
  assert.isTrue(trace.descendsFrom(trace.named("record"), processing), "record under process")
  assert.isTrue(trace.descendsFrom(trace.named("dedupe mark"), processing), "dedupe under process")
  const send = exporter
    .getFinishedSpans()
    .find(
      (s) =>
        s.name === "send workstream.events" && s.links.some((l) => l.context.spanId === create.spanContext().spanId)
    )
  assert.isDefined(send, "the batch's send span links to the create span")
  assert.strictEqual(processing.attributes["messaging.message.id"], create.attributes["messaging.message.id"])
  assert.strictEqual(processing.attributes["workstream.event_id"], create.attributes["messaging.message.id"])
}

describe("tracing across the system", () => {
  it.live(
    "one REST create (then one complete) is one trace: gateway client -> tasks server -> command -> SQL, relay create -> consumer process -> record",
    () =>
      Effect.gen(function* () {
        // Built into the test's scope, so spans are exported until the system has stopped.
        const tracing = yield* Layer.build(Tracing.layerWith("workstream", new SimpleSpanProcessor(exporter)))
        const { env } = yield* systemPorts
        const settings = yield* Embedded.load.pipe(
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            ConfigProvider.fromEnv({ env: { ...env, LOG_LEVEL: "Warn" } })
          )
        )
        const endpoints = yield* Embedded.run(settings).pipe(Effect.provideContext(tracing))
        yield* awaitReady(`${endpoints.gateway}/readyz`)

        const task = yield* createTask(endpoints.gateway, "traced")
        yield* awaitNotifications(endpoints.notifications, (items) => items.some((i) => i.task_id === task.id))
        yield* Effect.sleep("200 millis")
        assertOneTrace("CreateTask", "/api/v1/tasks", "Tasks.create")

        exporter.reset()
        yield* completeTask(endpoints.gateway, task.id)
        yield* awaitNotifications(
          endpoints.notifications,
          (items) => items.filter((i) => i.task_id === task.id).length === 2
        )
        yield* Effect.sleep("200 millis")
        assertOneTrace("CompleteTask", "/api/v1/tasks/:id/complete", "Tasks.transition")
      }),
    60_000
  )
})
