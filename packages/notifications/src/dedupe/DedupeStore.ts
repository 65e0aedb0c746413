/**
 * The dedupe fast path of DESIGN §5: which event ids were already processed, remembered for a
 * time to live (24 h by default). It is only a cache: the record store's unique index is the
 * guarantee, so a flushed or unavailable dedupe store costs work, never a double record.
 */
import { Context, type Effect, Schema } from "effect"

export const DEFAULT_PREFIX = "workstream:processed:"

export class DedupeUnavailable extends Schema.TaggedError<DedupeUnavailable>()("DedupeUnavailable", {
  operation: Schema.String,
  cause: Schema.Defect()
}) {
  override get message(): string {
    return `the dedupe store is unavailable (${this.operation})`
  }
}

export class DedupeStore extends Context.Service<
  DedupeStore,
  {
    /** Whether this event was processed within the time to live. */
    readonly seen: (eventId: string) => Effect.Effect<boolean, DedupeUnavailable>
    /** Remembers the event as processed, for the time to live. */
    readonly markProcessed: (eventId: string) => Effect.Effect<void, DedupeUnavailable>
  }
>()("@workstream/notifications/DedupeStore") {}
