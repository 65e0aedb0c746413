/**
 * The consumer of `workstream.notifications` as a scoped Layer: manual acks, bounded prefetch
 * (backpressure), and every message ends acked exactly once after its fate is settled:
 *
 * - recorded or duplicate: ack;
 * - poison (undecodable, invalid): copied to the DLQ with the reason, confirmed, then acked;
 * - store or dedupe trouble: retried in place (a short jittered Schedule), then re-queued on the
 *   retry queue for its attempt (delayed redelivery), or, past the last delay, dead-lettered with
 *   the attempts and the last error; always confirmed before the ack.
 *
 * If the channel dies before the ack, RabbitMQ redelivers and processing repeats harmlessly. It
 * re-consumes by itself after a reconnect; on shutdown it cancels the consumer and lets in-flight
 * messages finish.
 */

import { Ids } from "@workstream/domain"
import { AmqpConnection, Topology } from "@workstream/platform"
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib"
import {
  Cause,
  DateTime,
  Deferred,
  Duration,
  Effect,
  FiberSet,
  Layer,
  Metric,
  Option,
  type Schedule,
  Schema,
  Stream
} from "effect"
import type { DedupeStore } from "../dedupe/DedupeStore.ts"
import { NotificationRecords } from "../store/NotificationRecords.ts"
import { processEvent, type TransientFailure } from "./processEvent.ts"

export const ATTEMPTS_HEADER = "x-workstream-attempts"

/** Bound on each step of opening the consumer's channel. */
const SETUP_TIMEOUT = Duration.seconds(10)

export interface Options {
  readonly topology: Topology.Topology
  /** Unacked messages in flight per consumer: the backpressure bound. */
  readonly prefetch: number
  /** Retries in place before a message goes to the retry queues. */
  readonly inPlaceRetry: Schedule.Schedule<unknown, TransientFailure>
}

const consumed = Metric.counter("notifications_events_consumed_total", {
  description: "messages consumed, by outcome (recorded, duplicate, retried, dead_lettered)"
})
const latency = Metric.histogram("notifications_processing_seconds", {
  description: "time from delivery to ack (or hand-off to a retry queue or the DLQ)",
  boundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
})
const inFlightGauge = Metric.gauge("notifications_in_flight", { description: "messages being processed right now" })
const count = (outcome: string) => Metric.update(consumed.pipe(Metric.withAttributes({ outcome })), 1)

const attemptsOf = (message: ConsumeMessage): number => {
  const previous = Number(message.properties.headers?.[ATTEMPTS_HEADER] ?? 0)
  return (Number.isSafeInteger(previous) && previous >= 0 ? previous : 0) + 1
}

/** The broker did not confirm a copy (nack, or the channel closed first): the original stays unacked. */
class CopyNotConfirmed extends Schema.TaggedError<CopyNotConfirmed>()("CopyNotConfirmed", {
  queue: Schema.String,
  cause: Schema.Defect()
}) {}

/** Publishes a copy to a queue (through the default exchange) and waits for the broker's confirm. */
const copyTo = (channel: ConfirmChannel, queue: string, message: ConsumeMessage, headers: Record<string, unknown>) =>
  Effect.callback<void, CopyNotConfirmed>((resume) => {
    channel.sendToQueue(
      queue,
      message.content,
      {
        persistent: true,
        contentType: message.properties.contentType,
        messageId: message.properties.messageId,
        headers: { ...message.properties.headers, ...headers }
      },
      (error: unknown) => resume(error ? Effect.fail(new CopyNotConfirmed({ queue, cause: error })) : Effect.void)
    )
  })

export const layer = (options: Options) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const connection = yield* AmqpConnection.AmqpConnection
      const { topology } = options

      const records = yield* NotificationRecords

      /**
       * Copies the message to the DLQ with why (confirmed), then keeps a record of it for the debug
       * API. The DLQ is the source of truth: a record that cannot be written is logged, not retried.
       */
      const deadLetter = (
        channel: ConfirmChannel,
        message: ConsumeMessage,
        why: {
          readonly reason: string
          readonly stage: "decode" | "process"
          readonly attempts: number
          readonly lastError?: string
        }
      ) =>
        Effect.gen(function* () {
          yield* copyTo(channel, topology.deadLetterQueue.name, message, {
            "x-reason": why.reason.slice(0, 1000),
            "x-stage": why.stage,
            "x-original-routing-key": message.fields.routingKey,
            [ATTEMPTS_HEADER]: why.attempts,
            ...(why.lastError === undefined ? {} : { "x-last-error": why.lastError })
          })
          yield* records
            .recordDeadLetter({
              id: yield* Ids.uuidv7,
              event_id: String(message.properties.messageId ?? ""),
              routing_key: message.fields.routingKey,
              reason: why.reason.slice(0, 1000),
              stage: why.stage,
              attempts: why.attempts,
              dead_lettered_at: yield* DateTime.now
            })
            .pipe(Effect.catch((error) => Effect.logWarning(`dead letter not recorded: ${error.message}`)))
          yield* count("dead_lettered")
        })

      const settle = (channel: ConfirmChannel, message: ConsumeMessage) =>
        Effect.gen(function* () {
          const startedAt = performance.now()
          yield* Metric.modify(inFlightGauge, 1)
          yield* Effect.addFinalizer(() =>
            Effect.andThen(
              Metric.modify(inFlightGauge, -1),
              Metric.update(latency, (performance.now() - startedAt) / 1000)
            )
          )
          const attempts = attemptsOf(message)
          const outcome = yield* processEvent(message.content.toString("utf8"), attempts).pipe(
            Effect.retry(options.inPlaceRetry),
            Effect.result
          )
          if (outcome._tag === "Success") {
            const result = outcome.success
            if (result._tag === "Poison") {
              yield* deadLetter(channel, message, { reason: result.reason, stage: result.stage, attempts })
              yield* Effect.logWarning(`dead-lettered a poison message: ${result.reason}`)
            } else {
              yield* count(result._tag === "Recorded" ? "recorded" : "duplicate")
            }
          } else {
            const retry = Topology.retryQueueFor(topology, attempts)
            const lastError = outcome.failure.message
            if (retry !== undefined) {
              yield* copyTo(channel, retry.name, message, { [ATTEMPTS_HEADER]: attempts, "x-last-error": lastError })
              yield* count("retried")
            } else {
              yield* deadLetter(channel, message, {
                reason: "retries exhausted",
                stage: "process",
                attempts,
                lastError
              })
              yield* Effect.logError(`dead-lettered after ${attempts} attempts: ${lastError}`)
            }
          }
          channel.ack(message)
        }).pipe(
          // The finalizer above (in-flight, latency) runs when this message is settled.
          Effect.scoped,
          Effect.annotateLogs({ event_id: String(message.properties.messageId ?? "") }),
          // A copy that was not confirmed: no ack, so the broker redelivers the original.
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logWarning("message left for redelivery", cause)
          )
        )

      /** One step of opening the channel, typed and bounded: a broker that does not answer is trouble. */
      const setup = <A>(step: string, f: () => Promise<A>) =>
        Effect.tryPromise({
          try: f,
          catch: (cause) => new AmqpConnection.BrokerUnavailable({ reason: `${step} failed: ${String(cause)}` })
        }).pipe(
          Effect.timeoutOrElse({
            duration: SETUP_TIMEOUT,
            orElse: () => Effect.fail(new AmqpConnection.BrokerUnavailable({ reason: `${step} timed out` }))
          })
        )

      /**
       * One channel's life: consume until it closes, then fail, so the retry below opens a new one.
       * In-flight messages finish when the scope closes.
       */
      const session = (model: ChannelModel) =>
        Effect.scoped(
          Effect.gen(function* () {
            const channel = yield* Effect.acquireRelease(
              setup("opening a channel", () => model.createConfirmChannel()),
              (ch) => Effect.promise(() => ch.close().catch(() => undefined))
            )
            const closed = yield* Deferred.make<void>()
            channel.on("error", () => undefined)
            channel.on("close", () => Deferred.doneUnsafe(closed, Effect.void))
            yield* Topology.declare(channel, topology)
            yield* setup("setting the prefetch", () => channel.prefetch(options.prefetch))
            const inFlight = yield* FiberSet.make()
            const run = yield* FiberSet.runtime(inFlight)<DedupeStore | NotificationRecords>()
            const { consumerTag } = yield* setup("consuming", () =>
              channel.consume(topology.queue.name, (message) => {
                if (message !== null) run(settle(channel, message))
              })
            )
            // Shutdown: stop taking messages first, then let those in flight settle.
            yield* Effect.addFinalizer(() =>
              Effect.promise(() => channel.cancel(consumerTag).catch(() => undefined)).pipe(
                Effect.andThen(FiberSet.awaitEmpty(inFlight)),
                Effect.timeout("10 seconds"),
                Effect.ignore
              )
            )
            yield* Effect.logInfo(`consuming ${topology.queue.name} (prefetch ${options.prefetch})`)
            yield* Deferred.await(closed)
            // A channel can close while its connection lives on (a channel error): consume again.
            return yield* new AmqpConnection.BrokerUnavailable({ reason: "the consumer's channel closed" })
          })
        ).pipe(
          Effect.tapError((error) => Effect.logWarning(`consumer: ${error.message}; reopening`)),
          // Forever, until the connection changes (switchMap then interrupts this session).
          Effect.retry(AmqpConnection.reconnectSchedule("200 millis", "5 seconds"))
        )

      yield* connection.changes.pipe(
        Stream.switchMap(
          Option.match({ onNone: () => Stream.empty, onSome: (model) => Stream.fromEffect(session(model)) })
        ),
        Stream.runDrain,
        Effect.forkScoped
      )
    })
  )
