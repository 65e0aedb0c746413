/**
 * The RabbitMQ topology of Workstream's events (DESIGN §4, §5), defined once: the tasks service
 * publishes to it and the notifications service consumes from it, and both declare it on start,
 * so whichever comes up first creates it and no message is published into the void.
 *
 * Delayed redelivery needs no plugin: a consumer puts a failed message on a retry queue whose
 * `x-message-ttl` is the delay; when it expires RabbitMQ dead-letters it through the default
 * exchange straight to the main queue (not through the topic exchange, which would hand it again
 * to every other bound queue), adding an `x-death` header that counts the attempts.
 */
import type { Channel } from "amqplib"
import { Duration, Effect, Schema } from "effect"
import { reasonOf } from "./internal/acquire.ts"

export const EXCHANGE = "workstream.events"
export const QUEUE = "workstream.notifications"
export const DEAD_LETTER_QUEUE = "workstream.notifications.dlq"
/** Every task event type (`workstream.task.<what>.v<n>`) reaches the notifications queue. */
export const BINDING_KEY = "workstream.task.#"

export const DEFAULT_RETRY_DELAYS: ReadonlyArray<Duration.Duration> = [
  Duration.seconds(1),
  Duration.seconds(5),
  Duration.seconds(15),
  Duration.seconds(30),
  Duration.seconds(60)
]

/**
 * Deliveries of one message to consumers before the quorum queue dead-letters it to the DLQ.
 * A backstop only: the consumer's own retry path decides long before, but a message that crashes
 * the consumer before it can ack or dead-letter it would otherwise come back forever.
 */
export const DEFAULT_DELIVERY_LIMIT = 20

const DECLARE_TIMEOUT = Duration.seconds(10)

export type QueueArguments = Readonly<Record<string, string | number>>

export interface QueueDeclaration {
  readonly name: string
  readonly arguments: QueueArguments
}

export interface RetryQueue extends QueueDeclaration {
  readonly delay: Duration.Duration
}

export interface Topology {
  /** Durable topic exchange the publisher sends to; routing key = event type. */
  readonly exchange: string
  readonly exchangeType: "topic"
  /** The notifications queue, bound to `exchange` with `bindingKey`. */
  readonly queue: QueueDeclaration
  readonly bindingKey: string
  readonly deadLetterQueue: QueueDeclaration
  /** In the order given (attempt 1 uses the first); publish to them through the default exchange. */
  readonly retryQueues: ReadonlyArray<RetryQueue>
  readonly deliveryLimit: number
}

export interface Options {
  /** Prepended to every exchange and queue name, so each test run can have its own (e.g. `"t-1a2b3c."`). */
  readonly prefix?: string
  /** Finite delays; the default is 1s, 5s, 15s, 30s, 60s. */
  readonly retryDelays?: ReadonlyArray<Duration.Duration>
  readonly deliveryLimit?: number
}

const QUORUM = { "x-queue-type": "quorum" } as const

// 5000 ms -> "5s", 1500 ms -> "1500ms": a name an operator reads as the delay.
const delayLabel = (millis: number): string => (millis % 1000 === 0 ? `${millis / 1000}s` : `${millis}ms`)

export const make = (options: Options = {}): Topology => {
  const prefix = options.prefix ?? ""
  const queue = `${prefix}${QUEUE}`
  const deadLetterQueue = `${prefix}${DEAD_LETTER_QUEUE}`
  const deliveryLimit = options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT
  return {
    exchange: `${prefix}${EXCHANGE}`,
    exchangeType: "topic",
    queue: {
      name: queue,
      arguments: {
        ...QUORUM,
        "x-delivery-limit": deliveryLimit,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": deadLetterQueue
      }
    },
    bindingKey: BINDING_KEY,
    deadLetterQueue: { name: deadLetterQueue, arguments: QUORUM },
    retryQueues: (options.retryDelays ?? DEFAULT_RETRY_DELAYS).map((delay) => {
      const millis = Math.max(1, Math.round(Duration.toMillis(delay)))
      return {
        name: `${queue}.retry.${delayLabel(millis)}`,
        delay,
        arguments: {
          ...QUORUM,
          "x-message-ttl": millis,
          "x-dead-letter-exchange": "",
          "x-dead-letter-routing-key": queue
        }
      }
    }),
    deliveryLimit
  }
}

/** The retry queue for the n-th failed attempt (1-based), or undefined when the delays are used up (then: DLQ). */
export const retryQueueFor = (topology: Topology, attempt: number): RetryQueue | undefined =>
  Number.isInteger(attempt) && attempt >= 1 ? topology.retryQueues[attempt - 1] : undefined

export class TopologyDeclarationFailed extends Schema.TaggedError<TopologyDeclarationFailed>()(
  "TopologyDeclarationFailed",
  { step: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `declaring the AMQP topology failed at ${this.step}: ${this.reason}`
  }
}

const step = (name: string, run: () => Promise<unknown>) =>
  Effect.tryPromise({
    try: run,
    catch: (cause) => new TopologyDeclarationFailed({ step: name, reason: reasonOf(cause) })
  })

const withTimeout = <A>(
  effect: Effect.Effect<A, TopologyDeclarationFailed>,
  timeout: Duration.Input
): Effect.Effect<A, TopologyDeclarationFailed> =>
  Effect.timeoutOrElse(effect, {
    duration: timeout,
    orElse: () =>
      Effect.fail(
        new TopologyDeclarationFailed({
          step: "timeout",
          reason: `no answer within ${Duration.format(Duration.fromInputUnsafe(timeout))}`
        })
      )
  })

const assertQueue = (channel: Channel, queue: QueueDeclaration) =>
  step(`queue ${queue.name}`, () => channel.assertQueue(queue.name, { durable: true, arguments: queue.arguments }))

/**
 * Asserts the whole topology. Idempotent: asserting what exists with the same arguments is a
 * no-op, so every process runs it on every (re)connect. A queue that exists with different
 * arguments fails with PRECONDITION_FAILED (and RabbitMQ closes the channel).
 */
export const declare = Effect.fn("Topology.declare")(function* (
  channel: Channel,
  topology: Topology,
  options: { readonly timeout?: Duration.Input } = {}
) {
  yield* Effect.annotateCurrentSpan({ "messaging.destination.name": topology.exchange })
  yield* withTimeout(
    Effect.gen(function* () {
      yield* step(`exchange ${topology.exchange}`, () =>
        channel.assertExchange(topology.exchange, topology.exchangeType, { durable: true })
      )
      // The DLQ first: the main queue dead-letters into it.
      yield* assertQueue(channel, topology.deadLetterQueue)
      yield* assertQueue(channel, topology.queue)
      yield* step(`binding ${topology.queue.name}`, () =>
        channel.bindQueue(topology.queue.name, topology.exchange, topology.bindingKey)
      )
      for (const retry of topology.retryQueues) yield* assertQueue(channel, retry)
    }),
    options.timeout ?? DECLARE_TIMEOUT
  )
})

/** Deletes every queue and the exchange of a topology: for tests and throwaway prefixes, never production. */
export const remove = Effect.fn("Topology.remove")(function* (
  channel: Channel,
  topology: Topology,
  options: { readonly timeout?: Duration.Input } = {}
) {
  yield* withTimeout(
    Effect.gen(function* () {
      const queues = [topology.queue, ...topology.retryQueues, topology.deadLetterQueue]
      for (const queue of new Set(queues.map((q) => q.name))) {
        yield* step(`delete queue ${queue}`, () => channel.deleteQueue(queue))
      }
      yield* step(`delete exchange ${topology.exchange}`, () => channel.deleteExchange(topology.exchange))
    }),
    options.timeout ?? DECLARE_TIMEOUT
  )
})
