/**
 * What the consumer does with one message body, independent of AMQP: decode and validate,
 * dedupe (only a message that may be a repeat), record, mark (DESIGN §5, in that order, so a
 * crash anywhere leads to a redelivery that changes nothing). Poison is an outcome, not a
 * failure; a failure means "try again later".
 */
import { decodeEvent } from "@workstream/domain"
import type { Tracing } from "@workstream/platform"
import { DateTime, Effect, Metric, Result } from "effect"
import type { DedupeStore, DedupeUnavailable } from "../dedupe/DedupeStore.ts"
import type { NotificationRecords, StoreUnavailable } from "../store/NotificationRecords.ts"

export type Outcome =
  | { readonly _tag: "Recorded"; readonly eventId: string }
  | { readonly _tag: "Duplicate"; readonly eventId: string }
  | { readonly _tag: "Poison"; readonly stage: "decode"; readonly reason: string }

const dedupeHits = Metric.counter("notifications_dedupe_hits_total", {
  description: "redeliveries answered by the Redis fast path without touching the store"
})

export type TransientFailure = StoreUnavailable | DedupeUnavailable

/** How this message reached the consumer. */
export interface Arrival {
  /** Deliveries of this event it took so far, this one included (1 for the first). */
  readonly attempts: number
  /** The broker handed it out before: it may have been processed already. */
  readonly redelivered: boolean
}

/**
 * The processor over the consumer's stores, resolved once: the per-message path looks nothing up.
 * When traces are exported (`exported`, `traced` from `Tracing.steps`) its steps have spans of
 * their own, and the consumer's span gets the event's ids.
 */
export const makeProcessEvent = (
  dedupe: DedupeStore["Service"],
  records: NotificationRecords["Service"],
  tracing: { readonly exported: boolean; readonly traced: (name: string) => Tracing.Step }
) => {
  const { exported, traced } = tracing
  const seenStep = traced("dedupe seen")
  const recordStep = traced("record")
  const markStep = traced("dedupe mark")
  return Effect.fnUntraced(function* (body: string, arrival: Arrival): Effect.fn.Return<Outcome, TransientFailure> {
    const decoded = decodeEvent(body)
    if (Result.isFailure(decoded)) return { _tag: "Poison", stage: "decode", reason: decoded.failure.reason }
    const event = decoded.success
    // The event's own ids, beside the transport's (messaging.message.id): they differ for a
    // mislabelled message. Without a backend there is no span to take them (0.4 KB a message).
    if (exported) {
      yield* Effect.annotateCurrentSpan({
        "workstream.event_id": event.event_id,
        "workstream.trace_id": event.trace_id
      })
    }
    // Only a message that may have been processed before asks the fast path: a redelivery, or a
    // copy back from a retry queue. A first delivery of a duplicate publish (the relay publishes at
    // least once) is answered by the store's unique index instead: one Redis command per event on
    // the common path, not two (the check was a sixth of the consumer's CPU).
    const mayRepeat = arrival.redelivered || arrival.attempts > 1
    if (mayRepeat && (yield* dedupe.seen(event.event_id).pipe(seenStep))) {
      yield* Metric.update(dedupeHits, 1)
      return { _tag: "Duplicate", eventId: event.event_id }
    }
    const outcome = yield* records
      .record({
        event_id: event.event_id,
        event_type: event.event_type,
        task_id: event.payload.id,
        occurred_at: event.occurred_at,
        received_at: yield* DateTime.now,
        trace_id: event.trace_id,
        attempts: arrival.attempts,
        payload: event.payload
      })
      .pipe(recordStep)
    // Also after a duplicate: the record exists, so the fast path should know it.
    yield* dedupe.markProcessed(event.event_id).pipe(markStep)
    return { _tag: outcome === "recorded" ? "Recorded" : "Duplicate", eventId: event.event_id }
  })
}
