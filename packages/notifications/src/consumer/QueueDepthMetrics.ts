/** Consumer lag and DLQ depth as a gauge, sampled every few seconds: `notifications_queue_depth{queue}`. */
import { EventSource, MetricFamily } from "@workstream/platform"
import { Effect, Layer, Metric, Schedule } from "effect"

const depth = MetricFamily.of((attributes: { queue: string }) =>
  Metric.gauge("notifications_queue_depth", {
    description: "messages waiting in a queue: the notifications queue (consumer lag) and its DLQ",
    attributes
  })
)

export const layer = Layer.effectDiscard(
  Effect.gen(function* () {
    const source = yield* EventSource.EventSource
    const { queue, deadLetterQueue } = source.topology
    yield* source.depths.pipe(
      Effect.flatMap((depths) =>
        Effect.all([
          Metric.update(depth({ queue: queue.name }), depths.queue),
          Metric.update(depth({ queue: deadLetterQueue.name }), depths.deadLetters)
        ])
      ),
      // A broker that is away shows in /readyz; the gauge keeps its last value meanwhile.
      Effect.ignore,
      Effect.repeat(Schedule.spaced("5 seconds")),
      Effect.forkScoped
    )
  })
)
