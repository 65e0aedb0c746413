/**
 * The notifications consumer's pipeline in one process, for judging a change to it: the real
 * service layer over the in-memory broker, the local Redis for dedupe and the in-memory record
 * store, draining EVENTS preloaded events. Prints the process's CPU per event, which is steadier
 * than a rate on a shared machine, and the heap it allocates per event, which the machine does not
 * move at all (a change that allocates less usually costs less); compare runs of two versions
 * alternately.
 *   pnpm exec node bench/pipeline.ts [events=40000]
 */
import { randomBytes } from "node:crypto"
import * as v8 from "node:v8"
import { Context, Duration, Effect, Layer, Redacted, Schedule, Schema } from "effect"
import { dedupeInRedis, NotificationsServer, recordsInMemory } from "../packages/notifications/src/index.ts"
import { EventSource, InMemoryBroker, Topology } from "../packages/platform/src/index.ts"
import { createdEvent, fmt, log, newTask, REDIS_URL, uuidv7 } from "./lib.ts"

/** The consumer stopped making progress (Redis down, say): the run fails instead of waiting forever. */
class NotDrained extends Schema.TaggedError<NotDrained>()("NotDrained", {}) {
  override get message(): string {
    return "the pipeline did not drain within 5 minutes (is Redis up?)"
  }
}

const EVENTS = Number(process.argv[2] ?? 40_000)

/** Bytes allocated between two readings of the used heap: what each collection found, plus the growth between them. */
const allocatedSince = (
  usedBefore: number,
  collections: ReadonlyArray<v8.GCProfilerResult["statistics"][number]>,
  usedAfter: number
) => {
  let allocated = 0
  let used = usedBefore
  for (const gc of collections) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - used
    used = gc.afterGC.heapStatistics.usedHeapSize
  }
  return allocated + usedAfter - used
}
const prefix = `bench:pipeline:${randomBytes(4).toString("hex")}:`

const program = Effect.gen(function* () {
  const topology = Topology.make()
  const bus = yield* Layer.build(InMemoryBroker.InMemoryBroker.layer(topology))
  const broker = Context.get(bus, InMemoryBroker.InMemoryBroker)
  const utf8 = new TextEncoder()
  for (let i = 0; i < EVENTS; i++) {
    const eventId = uuidv7()
    yield* broker.publish({
      body: utf8.encode(createdEvent(newTask(`Pipeline ${i}`), eventId)),
      messageId: eventId,
      routingKey: "workstream.task.created.v1",
      headers: {},
      timestamp: Math.floor(Date.now() / 1000)
    })
  }
  const gcs = new v8.GCProfiler()
  const heapBefore = v8.getHeapStatistics().used_heap_size
  gcs.start()
  const cpuBefore = process.cpuUsage()
  const startedAt = performance.now()
  yield* Layer.build(
    NotificationsServer.layerWith(
      {
        eventSource: EventSource.EventSource.layerInMemory({ prefetch: 20 }).pipe(
          Layer.provide(Layer.succeedContext(bus))
        ),
        dedupe: dedupeInRedis({ url: Redacted.make(REDIS_URL), ttl: Duration.minutes(5), prefix }),
        records: recordsInMemory(),
        names: { broker: "event_bus", dedupe: "dedupe" }
      },
      { httpPort: 0, host: "127.0.0.1", bounds: { queue: Number.MAX_SAFE_INTEGER, deadLetters: 0 } }
    )
  )
  yield* broker.depth(topology.queue.name).pipe(
    Effect.filterOrFail((left) => left === 0),
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeoutOrElse({
      duration: "5 minutes",
      orElse: () => Effect.fail(new NotDrained())
    })
  )
  const cpu = process.cpuUsage(cpuBefore)
  const seconds = (performance.now() - startedAt) / 1000
  const allocated = allocatedSince(heapBefore, gcs.stop()?.statistics ?? [], v8.getHeapStatistics().used_heap_size)
  log(
    `${EVENTS} events: ${fmt((cpu.user + cpu.system) / 1000 / EVENTS, 4)} ms CPU per event, ${fmt(EVENTS / seconds)} events/s, ${fmt(allocated / EVENTS / 1024, 1)} KB allocated per event`
  )
})

// Its dedupe keys expire by themselves within five minutes.
await Effect.runPromise(Effect.scoped(program))
