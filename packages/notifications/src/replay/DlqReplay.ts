/**
 * Replaying dead letters: each selected message of the DLQ is republished through the main
 * exchange (with its original routing key, confirmed) and only then acked off the DLQ. Messages
 * not selected, and every message in a dry run, stay where they are. Replaying an event that was
 * already processed records nothing new: the consumer dedupes it.
 */
import type { Topology } from "@workstream/platform"
import amqp, { type GetMessage } from "amqplib"
import { type Duration, Effect, Schema } from "effect"
import { ATTEMPTS_HEADER } from "../consumer/EventConsumer.ts"

export interface ReplayOptions {
  readonly amqpUrl: string
  readonly topology: Topology.Topology
  /** One event id, or every message when undefined. */
  readonly eventId?: string | undefined
  readonly dryRun: boolean
  /** Bound on the whole run; the connection is closed when it passes (unacked messages stay in the DLQ). */
  readonly timeout?: Duration.Input
}

export interface Replayed {
  readonly eventId: string
  readonly routingKey: string
  readonly reason: string
}

export class ReplayFailed extends Schema.TaggedError<ReplayFailed>()("ReplayFailed", { reason: Schema.String }) {}

// Headers that described the dead-lettering; a replayed message starts afresh.
const DEAD_LETTER_HEADERS = [
  "x-reason",
  "x-stage",
  "x-last-error",
  "x-original-routing-key",
  ATTEMPTS_HEADER,
  "x-death"
]

const routingKeyOf = (message: GetMessage): string => {
  const original = message.properties.headers?.["x-original-routing-key"]
  return typeof original === "string" ? original : message.fields.routingKey
}

export const replay = (options: ReplayOptions): Effect.Effect<ReadonlyArray<Replayed>, ReplayFailed> =>
  Effect.tryPromise({
    try: async (signal) => {
      const connection = await amqp.connect(options.amqpUrl, {
        clientProperties: { connection_name: "workstream-dlq-replay" },
        timeout: 10_000
      })
      // A broker that stops answering ends the run: closing returns every unacked message to the DLQ.
      const close = () => void connection.close().catch(() => undefined)
      // The run may have timed out while connecting: then nothing is done with this connection.
      if (signal.aborted) {
        close()
        throw new Error("timed out while connecting")
      }
      signal.addEventListener("abort", close)
      try {
        const channel = await connection.createConfirmChannel()
        const queue = options.topology.deadLetterQueue.name
        // Only what is there now: messages left unacked are not handed out again on this channel.
        const { messageCount } = await channel.checkQueue(queue)
        const done: Array<Replayed> = []
        for (let i = 0; i < messageCount; i++) {
          const message = await channel.get(queue, { noAck: false })
          if (message === false) break
          const eventId = String(message.properties.messageId ?? "")
          if (options.eventId !== undefined && eventId !== options.eventId) continue
          const routingKey = routingKeyOf(message)
          const reason = String(message.properties.headers?.["x-reason"] ?? "")
          if (!options.dryRun) {
            const headers = Object.fromEntries(
              Object.entries(message.properties.headers ?? {}).filter(([k]) => !DEAD_LETTER_HEADERS.includes(k))
            )
            channel.publish(options.topology.exchange, routingKey, message.content, {
              persistent: true,
              contentType: message.properties.contentType,
              messageId: message.properties.messageId,
              headers
            })
            await channel.waitForConfirms()
            channel.ack(message)
          }
          done.push({ eventId, routingKey, reason })
        }
        // Closing returns every message this run did not ack to the DLQ.
        await channel.close()
        return done
      } finally {
        await connection.close()
      }
    },
    catch: (cause) => new ReplayFailed({ reason: cause instanceof Error ? cause.message : String(cause) })
  }).pipe(
    Effect.timeoutOrElse({
      duration: options.timeout ?? "2 minutes",
      orElse: () =>
        Effect.fail(new ReplayFailed({ reason: "the broker did not answer in time; nothing unconfirmed was acked" }))
    })
  )
