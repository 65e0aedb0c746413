// Temporary: CPU per event of the consumer pipeline in one process (in-memory broker, real Redis, in-memory store).
import { randomBytes } from "node:crypto"
import { EventSource, InMemoryBroker, Topology } from "@workstream/platform"
import { Context, Duration, Effect, Layer, Redacted } from "effect"
import { createdEvent, newTask, uuidv7 } from "../../bench/lib.ts"
import { dedupeInRedis, NotificationsServer, recordsInMemory } from "./src/index.ts"

const N = Number(process.argv[2] ?? 20000)
const program = Effect.gen(function* () {
  const topology = Topology.make()
  const bus = yield* Layer.build(InMemoryBroker.InMemoryBroker.layer(topology))
  const broker = Context.get(bus, InMemoryBroker.InMemoryBroker)
  const enc = new TextEncoder()
  for (let i = 0; i < N; i++) {
    const id = uuidv7()
    yield* broker.publish({ body: enc.encode(createdEvent(newTask(`t${i}`), id)), messageId: id, routingKey: "workstream.task.created.v1", headers: {}, timestamp: 0 })
  }
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  yield* Layer.build(
    NotificationsServer.layerWith(
      {
        eventSource: EventSource.EventSource.layerInMemory({ prefetch: 20 }).pipe(Layer.provide(Layer.succeedContext(bus))),
        dedupe: dedupeInRedis({ url: Redacted.make("redis://127.0.0.1:6379"), ttl: Duration.minutes(5), prefix: `micro:${randomBytes(4).toString("hex")}:` }),
        records: recordsInMemory,
        names: { broker: "event_bus", dedupe: "dedupe" }
      },
      { httpPort: 0, host: "127.0.0.1", bounds: { queue: 1e9, deadLetters: 1e9 } }
    )
  )
  while ((yield* broker.depth(topology.queue.name)) > 0) yield* Effect.sleep("20 millis")
  const cpu = process.cpuUsage(cpu0)
  const ms = performance.now() - t0
  console.log(`${N} events: ${((cpu.user + cpu.system) / 1000 / N).toFixed(4)} ms CPU/event, ${(N / (ms / 1000)).toFixed(0)} events/s`)
})
Effect.runPromise(Effect.scoped(program)).then(() => process.exit(0))
