/**
 * The consumer of `workstream.notifications` as a scoped Layer over the EventSource port (RabbitMQ
 * or the embedded in-memory broker). Every message ends acked exactly once after its fate is
 * settled:
 *
 * - recorded or duplicate: ack;
 * - poison (undecodable, invalid): copied to the DLQ with the reason, confirmed, then acked;
 * - store or dedupe trouble: retried in place (a short jittered Schedule), then re-queued on the
 *   retry queue for its attempt (delayed redelivery), or, past the last delay, dead-lettered with
 *   the attempts and the last error; always confirmed before the ack.
 *
 * If the consumer dies before the ack, the broker redelivers and processing repeats harmlessly.
 */

import { Ids } from "@workstream/domain"
import { EventSource, LazyRetry, MetricFamily, Topology, TraceContext, Tracing } from "@workstream/platform"
import { Cause, DateTime, Effect, Layer, Metric, type Schedule } from "effect"
import { DedupeStore } from "../dedupe/DedupeStore.ts"
import { NotificationRecords } from "../store/NotificationRecords.ts"
import { makeProcessEvent, type TransientFailure } from "./processEvent.ts"

export const ATTEMPTS_HEADER = "x-workstream-attempts"

export interface Options {
  /** Retries in place before a message goes to the retry queues. */
  readonly inPlaceRetry: Schedule.Schedule<unknown, TransientFailure>
}

const latency = Metric.histogram("notifications_processing_seconds", {
  description: "time from delivery to ack (or hand-off to a retry queue or the DLQ)",
  boundaries: MetricFamily.latencySeconds
})
const inFlightGauge = Metric.gauge("notifications_in_flight", { description: "messages being processed right now" })
type ConsumeOutcome = "recorded" | "duplicate" | "retried" | "dead_lettered"
const consumed = MetricFamily.of((attributes: { outcome: ConsumeOutcome }) =>
  Metric.counter("notifications_events_consumed_total", {
    description: "messages consumed, by outcome (recorded, duplicate, retried, dead_lettered)",
    attributes
  })
)
const counted: Record<ConsumeOutcome, Effect.Effect<void>> = {
  recorded: Metric.update(consumed({ outcome: "recorded" }), 1),
  duplicate: Metric.update(consumed({ outcome: "duplicate" }), 1),
  retried: Metric.update(consumed({ outcome: "retried" }), 1),
  dead_lettered: Metric.update(consumed({ outcome: "dead_lettered" }), 1)
}
const count = (outcome: ConsumeOutcome) => counted[outcome]
const enter = Metric.modify(inFlightGauge, 1)
const leave = Metric.modify(inFlightGauge, -1)

/** The trace the message carries, if valid: its logs name it, and its processing continues it. */
const parentOf = (delivery: EventSource.Delivery) => {
  const value = delivery.headers.traceparent
  return TraceContext.parentOf(typeof value === "string" ? value : undefined)
}

const attemptsOf = (delivery: EventSource.Delivery): number => {
  const previous = Number(delivery.headers[ATTEMPTS_HEADER] ?? 0)
  return (Number.isSafeInteger(previous) && previous >= 0 ? previous : 0) + 1
}

export const layer = (options: Options) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const source = yield* EventSource.EventSource
      const { topology } = source
      const records = yield* NotificationRecords
      const exported = yield* Tracing.exporting
      const processEvent = makeProcessEvent(yield* DedupeStore, records, { exported, traced: yield* Tracing.steps })

      /**
       * Copies the message to the DLQ with why (confirmed), then keeps a record of it for the debug
       * API. The DLQ is the source of truth: a record that cannot be written is logged, not retried.
       */
      const deadLetter = (
        delivery: EventSource.Delivery,
        why: {
          readonly reason: string
          readonly stage: "decode" | "process"
          readonly attempts: number
          readonly lastError?: string
        }
      ) =>
        Effect.gen(function* () {
          const reason = why.reason.slice(0, 1000)
          yield* delivery.copyTo(topology.deadLetterQueue.name, {
            "x-reason": reason,
            "x-stage": why.stage,
            "x-original-routing-key": delivery.routingKey,
            [ATTEMPTS_HEADER]: why.attempts,
            ...(why.lastError === undefined ? {} : { "x-last-error": why.lastError })
          })
          yield* records
            .recordDeadLetter({
              id: yield* Ids.uuidv7,
              event_id: delivery.messageId,
              routing_key: delivery.routingKey,
              reason,
              stage: why.stage,
              attempts: why.attempts,
              dead_lettered_at: yield* DateTime.now
            })
            .pipe(Effect.catch((error) => Effect.logWarning(`dead letter not recorded: ${error.message}`)))
          yield* count("dead_lettered")
        })

      const settle = (delivery: EventSource.Delivery) => {
        const startedAt = performance.now()
        // Only the rare paths log, so only they are annotated (and read the message's trace):
        // annotating every message's fiber copied its Context each time (1.3 KB of garbage per
        // message). With a tracing backend the `process` span, which continues the message's
        // trace, names the trace too.
        const logged = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
          const parent = parentOf(delivery)
          return Effect.annotateLogs(effect, {
            event_id: delivery.messageId,
            ...(parent === undefined ? {} : { trace_id: parent.traceId })
          })
        }
        const work = Effect.gen(function* () {
          const attempts = attemptsOf(delivery)
          const outcome = yield* LazyRetry.retry(
            processEvent(delivery.body, { attempts, redelivered: delivery.redelivered }),
            (again) => Effect.retry(again, options.inPlaceRetry)
          ).pipe(Effect.result)
          if (outcome._tag === "Success") {
            const result = outcome.success
            if (result._tag === "Poison") {
              yield* logged(
                Effect.andThen(
                  deadLetter(delivery, { reason: result.reason, stage: result.stage, attempts }),
                  Effect.logWarning(`dead-lettered a poison message: ${result.reason}`)
                )
              )
            } else {
              yield* count(result._tag === "Recorded" ? "recorded" : "duplicate")
            }
          } else {
            const retry = Topology.retryQueueFor(topology, attempts)
            const lastError = outcome.failure.message
            if (retry !== undefined) {
              yield* delivery.copyTo(retry.name, { [ATTEMPTS_HEADER]: attempts, "x-last-error": lastError })
              yield* count("retried")
            } else {
              yield* logged(
                Effect.andThen(
                  deadLetter(delivery, { reason: "retries exhausted", stage: "process", attempts, lastError }),
                  Effect.logError(`dead-lettered after ${attempts} attempts: ${lastError}`)
                )
              )
            }
          }
          yield* delivery.ack
        })
        // In flight from here; however the message ends, it no longer is, and its latency counts.
        return Effect.acquireUseRelease(
          enter,
          () => work,
          () =>
            Effect.andThen(
              leave,
              Effect.suspend(() => Metric.update(latency, (performance.now() - startedAt) / 1000))
            )
        ).pipe(
          // A copy that was not confirmed: no ack; the original goes back to the queue now, to be tried again.
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.void
              : Effect.andThen(logged(Effect.logWarning("message handed back for redelivery", cause)), delivery.requeue)
          ),
          // The processing span continues the trace the message carries (the request's, through
          // the relay's create span), so one trace runs from the REST call to the record. It is
          // made only for a tracing backend: its id travels nowhere, and it cost 5 KB of garbage
          // per message.
          (effect) => {
            if (!exported) return effect
            const parent = parentOf(delivery)
            return Effect.withSpan(effect, `process ${topology.queue.name}`, {
              kind: "consumer",
              captureStackTrace: false,
              ...(parent === undefined ? { root: true } : { parent }),
              attributes: {
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "process",
                "messaging.destination.name": topology.queue.name,
                "messaging.message.id": delivery.messageId,
                "messaging.rabbitmq.destination.routing_key": delivery.routingKey
              }
            })
          }
        )
      }

      yield* source.consume(settle)
    })
  )
