/**
 * Node runtime figures for `/metrics`, sampled every few seconds: the event loop's delay (p99 of
 * the last interval: the figure that shows a blocked loop), the V8 heap in use, and the resident
 * set size.
 */
import { monitorEventLoopDelay } from "node:perf_hooks"
import { Effect, Layer, Metric, Schedule } from "effect"

const loopDelay = Metric.gauge("nodejs_eventloop_delay_p99_seconds", {
  description: "99th percentile of the event loop's delay over the last sampling interval"
})
const heapUsed = Metric.gauge("nodejs_heap_used_bytes", { description: "V8 heap in use" })
const resident = Metric.gauge("process_resident_memory_bytes", { description: "resident set size of the process" })

export const layer = Layer.effectDiscard(
  Effect.gen(function* () {
    const delays = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const histogram = monitorEventLoopDelay({ resolution: 10 })
        histogram.enable()
        return histogram
      }),
      (histogram) => Effect.sync(() => histogram.disable())
    )
    const sample = Effect.gen(function* () {
      const memory = process.memoryUsage()
      yield* Metric.update(loopDelay, delays.count > 0 ? delays.percentile(99) / 1e9 : 0)
      yield* Metric.update(heapUsed, memory.heapUsed)
      yield* Metric.update(resident, memory.rss)
      delays.reset()
    })
    yield* sample.pipe(Effect.repeat(Schedule.spaced("5 seconds")), Effect.forkScoped)
  })
)
