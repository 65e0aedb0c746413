/**
 * The outbox relay: publishes committed outbox rows to RabbitMQ in commit order, waits for the
 * broker's confirms once per batch, then marks the rows published (DESIGN §5). Only the
 * replica holding the Postgres advisory lock publishes; the others poll for the lock and take
 * over when its holder dies. It wakes when a commit of its own process signals it, on
 * LISTEN/NOTIFY for the others' commits, and also polls, so a lost notification only delays an
 * event by one poll interval.
 */

import { PgClient } from "@effect/sql-pg"
import { EventPublisher, LazyRetry, Topology, TraceContext } from "@workstream/platform"
import { DateTime, Effect, Layer, Metric, Option, Queue, Schedule, Schema, type Tracer } from "effect"
import { IdempotencyKeys } from "../db/IdempotencyKeys.ts"
import { CHANNEL, type OutboxRow, OutboxStore } from "../db/OutboxStore.ts"
import { RelayLock } from "../db/RelayLock.ts"
import { TasksConfig } from "../TasksConfig.ts"
import { OutboxSignal } from "./OutboxSignal.ts"

const published = Metric.counter("outbox_events_published_total", {
  description: "outbox events confirmed by the broker"
})
const pending = Metric.gauge("outbox_pending_rows", { description: "committed events not yet confirmed by the broker" })
const parked = Metric.gauge("outbox_parked_rows", {
  description: "events set aside as unpublishable (their message cannot be encoded), waiting for an operator"
})
const oldestAge = Metric.gauge("outbox_oldest_pending_age_seconds", {
  description: "age of the oldest unpublished outbox row (0 when none)"
})

/** The lock's connection is gone, and the lock with it: stop publishing and compete again. */
class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", {}) {
  override get message(): string {
    return "the relay lock was lost"
  }
}

/** A database round of the relay did not finish in time. */
class RelayStalled extends Schema.TaggedError<RelayStalled>()("RelayStalled", { step: Schema.String }) {
  override get message(): string {
    return `the ${this.step} did not answer in time`
  }
}

// Broker or database trouble: back off with jitter, never give up while the service runs.
const onTrouble = Schedule.min([Schedule.exponential("200 millis"), Schedule.spaced("10 seconds")]).pipe(
  Schedule.jittered
)

const messaging = (operation: string) => ({
  "messaging.system": "rabbitmq",
  "messaging.operation.type": operation,
  "messaging.destination.name": Topology.EXCHANGE
})

/**
 * The message for a row, with a `create` span of its own: a child of the request that caused the
 * event (the row's traceparent), ended at once. The message carries that span as its
 * `traceparent`, so the consumer's processing joins the request's trace through it.
 */
const toMessage = (row: OutboxRow) => {
  const parent = TraceContext.parentOf(row.traceparent ?? undefined)
  return Effect.useSpan(
    `create ${Topology.EXCHANGE}`,
    {
      kind: "producer",
      ...(parent === undefined ? { root: true } : { parent }),
      attributes: {
        ...messaging("create"),
        "messaging.message.id": row.event_id,
        "messaging.rabbitmq.destination.routing_key": row.event_type
      }
    },
    (span): Effect.Effect<{ readonly message: EventPublisher.OutgoingMessage; readonly span: Tracer.Span }> =>
      Effect.succeed({
        span,
        message: {
          routingKey: row.event_type,
          body: row.body,
          messageId: row.event_id,
          headers: {
            traceparent: TraceContext.traceparentOf(span),
            ...(row.tracestate === null ? {} : { tracestate: row.tracestate })
          }
        }
      })
  )
}

export const layer = Layer.effectDiscard(
  Effect.gen(function* () {
    const pg = yield* PgClient.PgClient
    const outbox = yield* OutboxStore
    const publisher = yield* EventPublisher.EventPublisher
    const lock = yield* RelayLock
    const keys = yield* IdempotencyKeys
    const config = yield* TasksConfig

    /** A database round of the relay, bounded so a stuck Postgres cannot hold a batch (or shutdown) forever. */
    const bounded = <A, E>(effect: Effect.Effect<A, E>) =>
      effect.pipe(
        Effect.timeoutOrElse({
          duration: config.databaseTimeout,
          orElse: () => Effect.fail(new RelayStalled({ step: "database" }))
        })
      )

    /**
     * The next rows to publish, read while the lease is checked (on the lock's own connection): both
     * must answer before the rows are sent. `inFlight` (rows being published or marked meanwhile)
     * are passed over. Through a backlog the next batch is read while the one before it is
     * confirmed, so the check it passed is at most one round old when it is sent: a replica that
     * lost the lock stops after that batch at the latest (its copies are duplicates the consumers
     * absorb; each replica still publishes in commit order).
     */
    const nextRows = (verify: Effect.Effect<void, unknown>, inFlight: ReadonlyArray<OutboxRow> = []) =>
      Effect.zipWith(
        // The lock lives on one connection: if that connection is gone, so is the lock.
        Effect.mapError(bounded(verify), () => new LeaseLost()),
        bounded(
          outbox.nextBatch(
            config.relayBatchSize,
            inFlight.map((row) => row.seq)
          )
        ),
        (_, rows) => rows,
        { concurrent: true }
      )

    /**
     * Publishes the rows and waits for the broker's confirms; false when one row's message could not
     * even be encoded. Such a row would fail every batch it is in, forever: it is parked, and the
     * batch goes again without it (rows sent before it are published twice: duplicates are absorbed).
     */
    const publish = (rows: ReadonlyArray<OutboxRow>) =>
      Effect.gen(function* () {
        const created = yield* Effect.forEach(rows, toMessage)
        // One `send` span per batch, linked to each message's span: a batch serves many traces.
        // Bounded by the publisher's confirm timeout (RELAY_PUBLISH_TIMEOUT).
        return yield* publisher.publishBatch(created.map((c) => c.message)).pipe(
          Effect.withSpan(
            `send ${Topology.EXCHANGE}`,
            {
              kind: "producer",
              root: true,
              links: created.map((c) => ({ span: c.span, attributes: {} })),
              attributes: { ...messaging("send"), "messaging.batch.message_count": rows.length }
            },
            { captureStackTrace: false }
          ),
          Effect.as(true),
          Effect.catchTag("MessageInvalid", (invalid) =>
            bounded(outbox.park(invalid.messageId, invalid.reason)).pipe(
              Effect.andThen(
                Effect.logError(`outbox relay: parked event ${invalid.messageId}, unpublishable: ${invalid.reason}`)
              ),
              Effect.as(false)
            )
          )
        )
      })

    const markPublished = (rows: ReadonlyArray<OutboxRow>) =>
      rows.length === 0
        ? Effect.void
        : bounded(outbox.markPublished(rows.map((row) => row.seq))).pipe(
            Effect.andThen(Metric.update(published, rows.length))
          )

    /**
     * What the broker confirmed and the outbox does not say yet, for as long as this replica leads,
     * in publishing order: rows join the moment the broker confirms their batch (whatever happens
     * beside it), and a mark removes only the rows it took, so rows confirmed while it runs stay.
     */
    const makeLedger = () => {
      let confirmed: ReadonlyArray<OutboxRow> = []
      return {
        unmarked: () => confirmed,
        publishAndRecord: (rows: ReadonlyArray<OutboxRow>) =>
          Effect.tap(publish(rows), (sent) =>
            Effect.sync(() => {
              if (sent) confirmed = confirmed.concat(rows)
            })
          ),
        mark: Effect.suspend(() => {
          const marking = confirmed
          return Effect.tap(
            markPublished(marking),
            Effect.sync(() => {
              confirmed = confirmed.slice(marking.length)
            })
          )
        })
      }
    }
    // After a failure or an interruption: mark what the broker did confirm, or those rows go out twice.
    type Ledger = ReturnType<typeof makeLedger>
    const markOrWarn = (ledger: Ledger) =>
      ledger.mark.pipe(
        Effect.catchCause((cause) =>
          Effect.logWarning("outbox relay: marking confirmed events failed; they will be published again", cause)
        )
      )

    /**
     * Publishes until no row is left. While a full batch is published and confirmed, the rows
     * confirmed before it are marked and the next batch is read, so the broker rarely waits for the
     * database (a batch is still sent only once the one before it is confirmed: commit order holds).
     * Each round is uninterruptible, so SIGTERM lets it finish; every step is bounded. When another
     * drain follows at once, the last rows confirmed are marked beside its first read instead of
     * before it: under a steady stream of commits a drain is one database step (the read, with the
     * lease check and the mark beside it) and the broker's confirms, not three steps and the confirms.
     */
    const drain = (verify: Effect.Effect<void, unknown>, wake: Queue.Queue<void>, ledger: Ledger) => {
      const round = (rows: ReadonlyArray<OutboxRow>) =>
        Effect.gen(function* () {
          // A partial batch is the backlog's last: nothing to read ahead, nor to mark beside it.
          const ahead =
            rows.length < config.relayBatchSize
              ? Effect.succeed<ReadonlyArray<OutboxRow>>([])
              : Effect.andThen(ledger.mark, nextRows(verify, rows))
          const [sent, following] = yield* Effect.all([ledger.publishAndRecord(rows), ahead], { concurrency: 2 })
          // A row was parked: read again, passing over what was confirmed and is not marked yet.
          return sent ? following : yield* nextRows(verify, ledger.unmarked())
        }).pipe(Effect.uninterruptible)
      return Effect.gen(function* () {
        // The read passes over exactly the rows the mark beside it takes (nothing joins the ledger
        // in between); the mark is not cut short by a failed read, so no row is counted twice.
        let rows = yield* Effect.zipWith(
          Effect.uninterruptible(ledger.mark),
          nextRows(verify, ledger.unmarked()),
          (_, rows) => rows,
          { concurrent: true }
        )
        while (rows.length > 0) rows = yield* round(rows)
        // A wake is pending (a commit, or a commit's NOTIFY coming back): the next drain starts at
        // once and marks beside its read. Otherwise mark now, so an idle relay leaves none unmarked.
        if ((yield* Queue.size(wake)) === 0) yield* ledger.mark
      }).pipe(Effect.onError(() => markOrWarn(ledger)))
    }

    /** While this replica holds the lock: drain, then sleep until notified or the poll interval passes. */
    const lead = (wake: Queue.Queue<void>, verify: Effect.Effect<void, unknown>) =>
      Effect.suspend(() => {
        const ledger = makeLedger()
        return Effect.gen(function* () {
          yield* Effect.logInfo("outbox relay: leading")
          while (true) {
            const drained = drain(verify, wake, ledger).pipe(
              Effect.tapError((error) =>
                error._tag === "LeaseLost"
                  ? Effect.void
                  : Effect.logWarning(`outbox relay: ${error.message}; will retry`)
              )
            )
            // Broker or database trouble is retried while leading; a lost lease ends leadership.
            yield* LazyRetry.retry(drained, (again) =>
              Effect.retry(again, { schedule: onTrouble, while: (error) => error._tag !== "LeaseLost" })
            )
            yield* Queue.take(wake).pipe(Effect.timeoutOption(config.relayPollInterval))
          }
        }).pipe(
          // Leadership ends (shutdown, a lost lease) between drains too.
          Effect.ensuring(markOrWarn(ledger))
        )
      })

    /** Tries for the lock every poll interval; leads while it holds it. */
    const relay = (wake: Queue.Queue<void>) =>
      Effect.gen(function* () {
        while (true) {
          yield* Effect.scoped(
            Effect.flatMap(lock.acquire, (lease) =>
              Option.isSome(lease) ? lead(wake, lease.value.verify) : Effect.void
            )
          )
          yield* Effect.sleep(config.relayPollInterval)
        }
      }).pipe(
        Effect.tapError((error) => Effect.logWarning("outbox relay: lost the database, will retry", error)),
        Effect.retry(onTrouble)
      )

    const wake = (yield* OutboxSignal).wakes
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        const notifications = yield* pg.listen(CHANNEL)
        while (true) {
          yield* Queue.take(notifications)
          yield* Queue.offer(wake, undefined)
        }
      }).pipe(Effect.scoped, Effect.retry(onTrouble))
    )
    yield* Effect.forkScoped(relay(wake))

    // Every replica reports the backlog, leader or not, so a dashboard sees it whichever is scraped.
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        const stats = yield* outbox.stats
        yield* Metric.update(pending, stats.pending)
        yield* Metric.update(oldestAge, (stats.oldestPendingAgeMs ?? 0) / 1000)
        yield* Metric.update(parked, stats.parked)
      }).pipe(Effect.ignoreCause({ log: "Debug" }), Effect.repeat(Schedule.spaced("5 seconds")))
    )

    // Housekeeping: published rows are pruned after the retention period, expired idempotency keys deleted.
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        const bound = DateTime.subtractDuration(yield* DateTime.now, config.outboxRetention)
        const pruned = yield* outbox.prune(bound)
        const expired = yield* keys.deleteExpired(yield* DateTime.now)
        if (pruned + expired > 0)
          yield* Effect.logInfo(`housekeeping: pruned ${pruned} outbox rows, ${expired} expired keys`)
      }).pipe(Effect.ignoreCause({ log: "Warn" }), Effect.repeat(Schedule.spaced("1 hour")))
    )
  })
)
