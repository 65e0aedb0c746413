/**
 * The consuming side of the event bus as a port: deliveries of the topology's queue with manual
 * acks, at most `prefetch` unacked at a time (the backpressure bound), and a confirmed way to put
 * a copy on a retry queue or the DLQ before the original is acked. Two adapters: RabbitMQ, and
 * the in-memory broker of the embedded mode; one contract suite covers both.
 *
 * A consumption re-consumes by itself after the broker comes back. When its scope closes it
 * stops taking messages first, then waits (bounded) for the handlers in flight, so their acks
 * still reach the broker; whatever stays unacked is redelivered.
 */
import type { ConfirmChannel, ConsumeMessage } from "amqplib"
import { Context, type Duration, Effect, Exit, FiberSet, Layer, Schema, type Scope } from "effect"
import { AmqpConnection, BrokerUnavailable } from "./AmqpConnection.ts"
import { InMemoryBroker } from "./InMemoryBroker.ts"
import { reasonOf } from "./internal/acquire.ts"
import { type OpenChannel, onEveryConnection, openConfirmChannel } from "./internal/channelSession.ts"
import { coalescedAcks } from "./internal/coalescedAcks.ts"
import * as Topology from "./Topology.ts"

export interface Delivery {
  readonly body: string
  /** The event id (AMQP `message-id`); empty when the publisher set none. */
  readonly messageId: string
  readonly routingKey: string
  readonly headers: Readonly<Record<string, unknown>>
  /** The broker delivered this message before (to this consumer or another): it may have been handled already. */
  readonly redelivered: boolean
  /** The broker forgets the message: call once its fate is settled. */
  readonly ack: Effect.Effect<void>
  /** The broker delivers the message again now (to this consumer or another); no-op once acked. */
  readonly requeue: Effect.Effect<void>
  /** A copy to a queue of the topology (retry or DLQ) with these headers added, confirmed by the broker. */
  readonly copyTo: (queue: string, headers: Readonly<Record<string, unknown>>) => Effect.Effect<void, CopyNotConfirmed>
}

/** The broker did not confirm a copy (a nack, or the channel closed before or during it): the original stays unacked. */
export class CopyNotConfirmed extends Schema.TaggedError<CopyNotConfirmed>()("CopyNotConfirmed", {
  queue: Schema.String,
  cause: Schema.Defect()
}) {}

export type Handler = (delivery: Delivery) => Effect.Effect<void>

export interface QueueDepths {
  readonly queue: number
  readonly deadLetters: number
}

export class EventSource extends Context.Service<
  EventSource,
  {
    readonly topology: Topology.Topology
    /** Consumes until the scope closes (then drains, see above). Never fails: broker trouble is retried. */
    readonly consume: (handle: Handler) => Effect.Effect<void, never, Scope.Scope>
    /** Messages waiting in the main queue (consumer lag) and in the DLQ. */
    readonly depths: Effect.Effect<QueueDepths, BrokerUnavailable>
  }
>()("@workstream/platform/EventSource") {
  static readonly layerAmqp = (options: Options) => Layer.effect(EventSource, makeAmqp(options))
  static readonly layerInMemory = (options: Omit<Options, "topology" | "copyTimeout">) =>
    Layer.effect(EventSource, makeInMemory(options))
}

export interface Options {
  readonly topology: Topology.Topology
  /** Unacked messages in flight per consumer. */
  readonly prefetch: number
  /** Bound on the wait for handlers in flight at shutdown. Default 10 seconds. */
  readonly drainTimeout?: Duration.Input
  /** Bound on the broker's confirm of a copy to a retry queue or the DLQ. Default 10 seconds. */
  readonly copyTimeout?: Duration.Input
  /** Bound on each step of opening the consumer's channel (and of reading the queue depths). Default 10 seconds. */
  readonly setupTimeout?: Duration.Input
}

/** Runs one handler per delivery; the fibers of those in flight are interrupted only after `drainOnClose`. */
const handlers = Effect.fnUntraced(function* () {
  const fibers = yield* FiberSet.make()
  return { fibers, run: yield* FiberSet.runtime(fibers)<never>() }
})

/**
 * One message's handler run, settling the message once: an ack, or a requeue. A handler that
 * fails (a defect) or is interrupted before either hands its message back at once, instead of
 * holding a prefetch slot until the channel closes.
 */
const settling = (
  handle: Handler,
  delivery: Omit<Delivery, "ack" | "requeue">,
  ack: () => void,
  requeue: () => void
) => {
  let settled = false
  const once = (settle: () => void) =>
    Effect.sync(() => {
      if (settled) return
      settled = true
      settle()
    })
  return handle({ ...delivery, ack: once(ack), requeue: once(requeue) }).pipe(
    Effect.onExit((exit) => (Exit.isFailure(exit) ? once(requeue) : Effect.void))
  )
}

/** On scope close: stop taking messages, then wait (bounded) for the handlers in flight to settle. */
const drainOnClose = (stop: Effect.Effect<void>, fibers: FiberSet.FiberSet, timeout: Duration.Input | undefined) =>
  Effect.addFinalizer(() =>
    stop.pipe(Effect.andThen(FiberSet.awaitEmpty(fibers)), Effect.timeout(timeout ?? "10 seconds"), Effect.ignore)
  )

const makeAmqp = Effect.fnUntraced(function* (options: Options) {
  const connection = yield* AmqpConnection
  const { topology } = options

  const setupTimeout = options.setupTimeout ?? "10 seconds"
  /** One step of opening the channel, typed and bounded: a broker that does not answer is trouble. */
  const bounded = <A, E, R>(step: string, effect: Effect.Effect<A, E, R>) =>
    Effect.timeoutOrElse(effect, {
      duration: setupTimeout,
      orElse: () => Effect.fail(new BrokerUnavailable({ reason: `${step} timed out` }))
    })
  const setup = <A>(step: string, f: () => Promise<A>) =>
    bounded(
      step,
      Effect.tryPromise({
        try: f,
        catch: (cause) => new BrokerUnavailable({ reason: `${step} failed: ${reasonOf(cause)}` })
      })
    )

  const deliveryOf = (channel: ConfirmChannel, message: ConsumeMessage): Omit<Delivery, "ack" | "requeue"> => ({
    body: message.content.toString("utf8"),
    messageId: String(message.properties.messageId ?? ""),
    routingKey: message.fields.routingKey,
    headers: message.properties.headers ?? {},
    redelivered: message.fields.redelivered,
    copyTo: (queue, headers) =>
      Effect.callback<void, CopyNotConfirmed>((resume) => {
        try {
          channel.sendToQueue(
            queue,
            message.content,
            {
              persistent: true,
              contentType: message.properties.contentType,
              messageId: message.properties.messageId,
              timestamp: message.properties.timestamp,
              headers: { ...message.properties.headers, ...headers }
            },
            (error: unknown) => resume(error ? Effect.fail(new CopyNotConfirmed({ queue, cause: error })) : Effect.void)
          )
        } catch (cause) {
          // The channel closed under us: no copy, so the original stays unacked and comes back.
          resume(Effect.fail(new CopyNotConfirmed({ queue, cause })))
        }
      }).pipe(
        Effect.timeoutOrElse({
          duration: options.copyTimeout ?? "10 seconds",
          orElse: () => Effect.fail(new CopyNotConfirmed({ queue, cause: "no confirm in time" }))
        })
      )
  })

  /**
   * The consumer of the channel in use, so a shutdown can cancel it before the channel closes;
   * once `stopping`, no session consumes again and late deliveries are left for redelivery.
   */
  interface Consuming {
    value?: { readonly channel: ConfirmChannel; readonly consumerTag: string }
    stopping: boolean
  }

  /** Sets a new channel up to consume; the session then lasts until the channel closes. */
  const consumeOn =
    (handle: Handler, run: (effect: Effect.Effect<void>) => void, current: Consuming) =>
    ({ channel }: OpenChannel) =>
      Effect.gen(function* () {
        yield* bounded("declaring the topology", Topology.declare(channel, topology))
        yield* setup("setting the prefetch", () => channel.prefetch(options.prefetch))
        // Shutting down: hold the session open without consuming until the scope ends.
        if (current.stopping) return yield* Effect.never
        const acks = coalescedAcks(channel)
        // Before the channel closes (finalizers run in reverse): the acks of this turn go out first.
        yield* Effect.addFinalizer(() => Effect.sync(acks.flush))
        const { consumerTag } = yield* setup("consuming", () =>
          channel.consume(topology.queue.name, (message) => {
            if (message !== null && !current.stopping) {
              const { ack, requeue } = acks.deliver(message)
              run(settling(handle, deliveryOf(channel, message), ack, requeue))
            }
            // The broker cancelled this consumer (its queue was deleted): end the session, so the
            // next one declares the topology again and consumes anew.
            else if (message === null) {
              acks.flush()
              void channel.close().catch(() => undefined)
            }
          })
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => delete current.value))
        current.value = { channel, consumerTag }
        yield* Effect.logInfo(`consuming ${topology.queue.name} (prefetch ${options.prefetch})`)
      })

  const depths = Effect.scoped(
    Effect.gen(function* () {
      const { channel } = yield* openConfirmChannel(yield* connection.get, setupTimeout)
      const queue = yield* setup("checking the queue", () => channel.checkQueue(topology.queue.name))
      const dead = yield* setup("checking the DLQ", () => channel.checkQueue(topology.deadLetterQueue.name))
      return { queue: queue.messageCount, deadLetters: dead.messageCount }
    })
  )

  return EventSource.of({
    topology,
    depths,
    consume: Effect.fnUntraced(function* (handle) {
      const { fibers, run } = yield* handlers()
      const current: Consuming = { stopping: false }
      // A channel can close while its connection lives on (a channel error): it consumes again.
      yield* onEveryConnection(
        connection,
        { label: "consumer", openTimeout: setupTimeout, reopenBase: "200 millis", reopenCap: "5 seconds" },
        consumeOn(handle, run, current)
      )
      // Registered last, so it runs first on close: while the channel is still open for the acks.
      yield* drainOnClose(
        Effect.promise(async () => {
          current.stopping = true
          const consuming = current.value
          if (consuming !== undefined) await consuming.channel.cancel(consuming.consumerTag).catch(() => undefined)
        }),
        fibers,
        options.drainTimeout
      )
    })
  })
})

const makeInMemory = Effect.fnUntraced(function* (options: Omit<Options, "topology" | "copyTimeout">) {
  const broker = yield* InMemoryBroker
  const { topology } = broker
  return EventSource.of({
    topology,
    depths: Effect.all({
      queue: broker.depth(topology.queue.name),
      deadLetters: broker.depth(topology.deadLetterQueue.name)
    }),
    consume: Effect.fnUntraced(function* (handle) {
      const { fibers, run } = yield* handlers()
      const consumer = yield* broker.consume(
        topology.queue.name,
        options.prefetch,
        ({ message, redelivered, ack, nack }) => {
          run(
            settling(
              handle,
              {
                body: Buffer.from(message.body).toString("utf8"),
                messageId: message.messageId,
                routingKey: message.routingKey,
                headers: message.headers,
                redelivered,
                copyTo: (queue, headers) =>
                  broker.sendToQueue(queue, { ...message, headers: { ...message.headers, ...headers } })
              },
              ack,
              nack
            )
          )
        }
      )
      // Released in reverse: drain first, then the broker takes back what is still unacked.
      yield* drainOnClose(consumer.cancel, fibers, options.drainTimeout)
    })
  })
})
