/**
 * The transactional outbox, as the relay reads it: event rows (written with their task change by
 * `TaskChanges`) in `seq` order, marked once the broker confirmed them, pruned later.
 */
import type { TaskEventEnvelope } from "@workstream/domain"
import { Context, type DateTime, Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { toText } from "./Timestamptz.ts"

/** LISTEN/NOTIFY channel the relay wakes on; the notification is delivered when the writer commits. */
export const CHANNEL = "workstream_outbox"

/**
 * An unpublished event as the relay reads it. `seq` is the bigint as decimal text (exact beyond 2^53,
 * and what `markPublished` takes back). Ids and type stay plain strings on purpose: the relay forwards
 * them as they are and must not refuse a row a newer replica wrote (a future `.v2` type).
 */
export const OutboxRow = Schema.Struct({
  seq: Schema.String.check(Schema.isPattern(/^[1-9][0-9]*$/)),
  event_id: Schema.String,
  event_type: Schema.String,
  task_id: Schema.String,
  body: Schema.String,
  traceparent: Schema.NullOr(Schema.String),
  tracestate: Schema.NullOr(Schema.String)
})
export type OutboxRow = typeof OutboxRow.Type

export interface NewOutboxRow {
  readonly envelope: TaskEventEnvelope
  readonly traceparent?: string
  readonly tracestate?: string
}

export interface OutboxStats {
  /** Unpublished and not parked: what the relay still has to publish. */
  readonly pending: number
  /** Set aside as unpublishable, waiting for an operator. */
  readonly parked: number
  /** Age of the oldest unpublished row by the database clock, undefined when none is pending. */
  readonly oldestPendingAgeMs: number | undefined
}

const decodeRows = Schema.decodeUnknownEffect(Schema.Array(OutboxRow))
const Stats = Schema.Struct({
  pending: Schema.FiniteFromString,
  parked: Schema.FiniteFromString,
  age_ms: Schema.NullOr(Schema.Finite)
})
const decodeStats = Schema.decodeUnknownEffect(Stats)

// Deleting published rows in chunks keeps each statement's locks short.
const PRUNE_CHUNK = 5_000

export class OutboxStore extends Context.Service<
  OutboxStore,
  {
    /** The first unpublished rows in `seq` order, passing over `inFlight` (seqs being published, not yet marked). */
    readonly nextBatch: (
      limit: number,
      inFlight?: ReadonlyArray<string>
    ) => Effect.Effect<ReadonlyArray<OutboxRow>, SqlError.SqlError>
    readonly markPublished: (seqs: ReadonlyArray<string>) => Effect.Effect<void, SqlError.SqlError>
    /** Sets an unpublishable row aside with the reason; the relay passes it from now on. */
    readonly park: (eventId: string, reason: string) => Effect.Effect<void, SqlError.SqlError>
    /** Deletes rows published before `before`; returns how many. */
    readonly prune: (before: DateTime.Utc) => Effect.Effect<number, SqlError.SqlError>
    readonly stats: Effect.Effect<OutboxStats, SqlError.SqlError>
  }
>()("@workstream/tasks/OutboxStore") {
  static readonly layer = Layer.effect(
    OutboxStore,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const nextBatch = Effect.fn("OutboxStore.nextBatch")(function* (
        limit: number,
        inFlight: ReadonlyArray<string> = []
      ) {
        // Not `seq > max(inFlight)`: a row with a lower seq may commit after the batch was read. A
        // list, not one array parameter: with `<> ALL($1::bigint[])` (and `= ANY` below) the relay
        // published a third slower (bench/analysis.md).
        const passing = inFlight.length === 0 ? sql`` : sql`AND outbox.seq NOT IN ${sql.in(inFlight)}`
        // `outbox.seq`, not `seq`: the bare name would sort by the text alias below ("104" < "95").
        const rows = yield* sql`
          SELECT seq::text AS seq, event_id::text AS event_id, event_type, task_id::text AS task_id, body,
                 traceparent, tracestate
          FROM outbox WHERE published_at IS NULL AND parked_at IS NULL ${passing}
          ORDER BY outbox.seq LIMIT ${limit}`
        return yield* Effect.orDie(decodeRows(rows))
      })

      const markPublished = Effect.fn("OutboxStore.markPublished")(function* (seqs: ReadonlyArray<string>) {
        if (seqs.length === 0) return
        yield* sql`UPDATE outbox SET published_at = now() WHERE seq IN ${sql.in(seqs)} AND published_at IS NULL`
      })

      const park = Effect.fn("OutboxStore.park")(function* (eventId: string, reason: string) {
        yield* sql`
          UPDATE outbox SET parked_at = now(), parked_reason = ${reason.slice(0, 1000)}
          WHERE event_id = ${eventId} AND published_at IS NULL`
      })

      const prune = Effect.fn("OutboxStore.prune")(function* (before: DateTime.Utc) {
        const bound = toText(before)
        let total = 0
        while (true) {
          const deleted = yield* sql`
            DELETE FROM outbox WHERE seq IN (
              SELECT seq FROM outbox WHERE published_at IS NOT NULL AND published_at < ${bound} LIMIT ${PRUNE_CHUNK}
            ) RETURNING seq`
          total += deleted.length
          if (deleted.length < PRUNE_CHUNK) return total
        }
      })

      const stats = Effect.gen(function* () {
        // Each part matches a partial index's predicate exactly, so none reads the published rows.
        const [row] = yield* sql`
          SELECT pending.n::text AS pending, parked.n::text AS parked, pending.age_ms
          FROM (SELECT count(*) AS n, (extract(epoch FROM now() - min(created_at)) * 1000)::float8 AS age_ms
                FROM outbox WHERE published_at IS NULL AND parked_at IS NULL) AS pending,
               (SELECT count(*) AS n FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL) AS parked`
        const { pending, parked, age_ms } = yield* Effect.orDie(decodeStats(row))
        return { pending, parked, oldestPendingAgeMs: age_ms ?? undefined }
      }).pipe(Effect.withSpan("OutboxStore.stats"))

      return OutboxStore.of({ nextBatch, markPublished, park, prune, stats })
    })
  )
}
