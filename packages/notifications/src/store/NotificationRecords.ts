/**
 * The record store port: each processed event is recorded once, append-only, and can be
 * listed for the debug API. Two adapters (MongoDB, in-memory) run the query built here and
 * pass one contract suite, so they answer the same way; the in-memory one keeps only its newest
 * records, so it knows an event as a duplicate only while its record is among them.
 */
import { EventType, Task, TaskId } from "@workstream/domain"
import { Context, type Effect, type Option, Schema } from "effect"

export const NotificationRecord = Schema.Struct({
  event_id: Schema.String.check(Schema.isUUID()),
  event_type: EventType,
  task_id: TaskId,
  occurred_at: Schema.DateTimeUtc,
  received_at: Schema.DateTimeUtc,
  trace_id: Schema.String,
  /** Deliveries it took to record the event (1 when the first one succeeded). */
  attempts: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  /** The task as the event carried it. */
  payload: Task
}).annotate({ identifier: "NotificationRecord" })
export type NotificationRecord = typeof NotificationRecord.Type

/**
 * The stored document: timestamps as BSON dates (so Mongo can index and compare them), the
 * payload as its JSON wire shape. The Mongo adapter stores exactly this; the in-memory one keeps
 * the records themselves (the query's fields are the same strings in both).
 */
export const RecordDocument = Schema.Struct({
  ...NotificationRecord.fields,
  occurred_at: Schema.DateTimeUtcFromDate,
  received_at: Schema.DateTimeUtcFromDate,
  payload: Schema.toCodecJson(Task)
})
export const toDocument = Schema.encodeSync(RecordDocument)
export const fromDocument = Schema.decodeUnknownEffect(RecordDocument)

export type RecordOutcome = "recorded" | "duplicate"

/** What the consumer dead-lettered, kept for the debug API (the DLQ itself stays the source of truth). */
export const DeadLetter = Schema.Struct({
  /** UUIDv7 of the dead-lettering: time-ordered, the listing's cursor. */
  id: Schema.String.check(Schema.isUUID()),
  /** The message id, which for poison may be anything, or empty. */
  event_id: Schema.String,
  routing_key: Schema.String,
  reason: Schema.String,
  stage: Schema.Literals(["decode", "process"]),
  attempts: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  dead_lettered_at: Schema.DateTimeUtc
}).annotate({ identifier: "DeadLetter" })
export type DeadLetter = typeof DeadLetter.Type

export const DeadLetterDocument = Schema.Struct({ ...DeadLetter.fields, dead_lettered_at: Schema.DateTimeUtcFromDate })
export const toDeadLetterDocument = Schema.encodeSync(DeadLetterDocument)
export const fromDeadLetterDocument = Schema.decodeUnknownEffect(DeadLetterDocument)

/** Dead letters after a cursor, in time order. */
export const deadLetterQueryOf = (after: string | undefined): Record<string, unknown> =>
  after === undefined ? {} : { id: { $gt: after } }

export interface ListFilter {
  readonly task_id?: TaskId | undefined
  readonly event_type?: EventType | undefined
  /** Only records after this event id (keyset pagination; UUIDv7 ids sort in time order). */
  readonly after?: string | undefined
  readonly limit: number
}

/**
 * The one query both adapters run. Built only from validated, typed values: no user input ever
 * becomes an operator (`$...`) or a field name.
 */
export const queryOf = (filter: ListFilter): Record<string, unknown> => ({
  ...(filter.task_id === undefined ? {} : { task_id: filter.task_id }),
  ...(filter.event_type === undefined ? {} : { event_type: filter.event_type }),
  ...(filter.after === undefined ? {} : { event_id: { $gt: filter.after } })
})

export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  operation: Schema.String,
  cause: Schema.Defect()
}) {
  override get message(): string {
    return `the notification store is unavailable (${this.operation})`
  }
}

export class NotificationRecords extends Context.Service<
  NotificationRecords,
  {
    /** Inserts the record; "duplicate" when its event_id is already recorded (which stays as it was). */
    readonly record: (record: NotificationRecord) => Effect.Effect<RecordOutcome, StoreUnavailable>
    readonly get: (eventId: string) => Effect.Effect<Option.Option<NotificationRecord>, StoreUnavailable>
    /** Records in event_id order; `limit` at most. */
    readonly list: (filter: ListFilter) => Effect.Effect<ReadonlyArray<NotificationRecord>, StoreUnavailable>
    readonly recordDeadLetter: (deadLetter: DeadLetter) => Effect.Effect<void, StoreUnavailable>
    readonly listDeadLetters: (filter: {
      readonly after?: string | undefined
      readonly limit: number
    }) => Effect.Effect<ReadonlyArray<DeadLetter>, StoreUnavailable>
  }
>()("@workstream/notifications/NotificationRecords") {}
