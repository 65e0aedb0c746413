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
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib"
import { Context, Deferred, Duration, Effect, Exit, FiberSet, Layer, Option, Schema, type Scope, Stream } from "effect"
import { AmqpConnection, BrokerUnavailable, reconnectSchedule } from "./AmqpConnection.ts"
import { InMemoryBroker } from "./InMemoryBroker.ts"
import { acquireScoped, reasonOf } from "./internal/acquire.ts"
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
}

/** Bound on each step of opening the consumer's channel. */
const SETUP_TIMEOUT = Duration.seconds(10)

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

  /** One step of opening the channel, typed and bounded: a broker that does not answer is trouble. */
  const bounded = <A, R>(step: string, effect: Effect.Effect<A, BrokerUnavailable, R>) =>
    Effect.timeoutOrElse(effect, {
      duration: SETUP_TIMEOUT,
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

  /**
   * A channel for the scope's lifetime. Its listeners are attached the moment it exists (an
   * `error` without one would crash the process), and one that arrives after the timeout is closed.
   */
  const openChannel = <C extends Channel>(open: () => Promise<C>, onClose: () => void = () => undefined) =>
    bounded(
      "opening a channel",
      acquireScoped({
        acquire: open,
        prepare: (channel) => {
          channel.on("error", () => undefined)
          channel.on("close", onClose)
          return channel
        },
        release: (channel) => channel.close(),
        onError: (cause) => new BrokerUnavailable({ reason: `opening a channel failed: ${reasonOf(cause)}` })
      })
    )

  // On a channel that has closed, amqplib throws: the closed channel has handed the message back already.
  const ackOn = (channel: ConfirmChannel, message: ConsumeMessage) => () => {
    try {
      channel.ack(message)
    } catch {}
  }
  const requeueOn = (channel: ConfirmChannel, message: ConsumeMessage) => () => {
    try {
      channel.nack(message, false, true)
    } catch {}
  }

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

  /** One channel's life: consume until it closes, then fail, so the retry opens a new one. */
  const session = (
    model: ChannelModel,
    handle: Handler,
    run: (effect: Effect.Effect<void>) => void,
    current: Consuming
  ) =>
    Effect.scoped(
      Effect.gen(function* () {
        const closed = yield* Deferred.make<void>()
        const channel = yield* openChannel(
          () => model.createConfirmChannel(),
          () => Deferred.doneUnsafe(closed, Effect.void)
        )
        yield* Topology.declare(channel, topology)
        yield* setup("setting the prefetch", () => channel.prefetch(options.prefetch))
        // Shutting down: hold the session open without consuming until the scope ends.
        if (current.stopping) return yield* Effect.never
        const { consumerTag } = yield* setup("consuming", () =>
          channel.consume(topology.queue.name, (message) => {
            if (message !== null && !current.stopping) {
              run(settling(handle, deliveryOf(channel, message), ackOn(channel, message), requeueOn(channel, message)))
            }
            // The broker cancelled this consumer (its queue was deleted): end the session, so the
            // retry declares the topology again and consumes anew.
            else if (message === null) void channel.close().catch(() => undefined)
          })
        )
        current.value = { channel, consumerTag }
        yield* Effect.logInfo(`consuming ${topology.queue.name} (prefetch ${options.prefetch})`)
        yield* Deferred.await(closed)
        // A channel can close while its connection lives on (a channel error): consume again.
        return yield* new BrokerUnavailable({ reason: "the consumer's channel closed" })
      })
    ).pipe(
      Effect.ensuring(Effect.sync(() => delete current.value)),
      Effect.tapError((error) => Effect.logWarning(`consumer: ${error.message}; reopening`)),
      // Forever, until the connection changes (switchMap then interrupts this session).
      Effect.retry(reconnectSchedule("200 millis", "5 seconds"))
    )

  const depths = Effect.scoped(
    Effect.gen(function* () {
      const model = yield* connection.get
      const channel = yield* openChannel(() => model.createChannel())
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
      yield* connection.changes.pipe(
        Stream.switchMap(
          Option.match({
            onNone: () => Stream.empty,
            onSome: (model) => Stream.fromEffect(session(model, handle, run, current))
          })
        ),
        Stream.runDrain,
        Effect.forkScoped
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
