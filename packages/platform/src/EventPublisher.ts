/**
 * The event publishing port and its RabbitMQ adapter. A batch goes to the topology's exchange on
 * a confirm channel, in order, persistent and `mandatory`, and the broker's confirms are awaited
 * once per batch (a confirm per message would cost a round trip each). If any message comes back
 * unroutable or is nacked, the whole batch fails naming those ids, so the caller (the outbox
 * relay) marks nothing published and tries again; duplicates are the consumer's to absorb.
 */
import type { ConfirmChannel, Message } from "amqplib"
import { IllegalOperationError } from "amqplib"
import {
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Layer,
  Option,
  Schema,
  Semaphore,
  Stream,
  SubscriptionRef
} from "effect"
import { AmqpConnection, BrokerUnavailable } from "./AmqpConnection.ts"
import { InMemoryBroker } from "./InMemoryBroker.ts"
import { reasonOf, releaseQuietly } from "./internal/acquire.ts"
import { type OpenChannel, onEveryConnection } from "./internal/channelSession.ts"
import * as Topology from "./Topology.ts"

export { BrokerUnavailable } from "./AmqpConnection.ts"

export interface OutgoingMessage {
  /** The event type, e.g. `workstream.task.created.v1`. */
  readonly routingKey: string
  /** The event's JSON text. */
  readonly body: string
  /** The event id; consumers dedupe on it. */
  readonly messageId: string
  /** `traceparent`, `tracestate` and the like. */
  readonly headers: Readonly<Record<string, string>>
  /** AMQP timestamp in Unix seconds (AMQP's unit); the Clock's now when absent. */
  readonly timestamp?: number
}

/** The broker took the batch but did not take these messages; none of the batch may be marked published. */
export class PublishRejected extends Schema.TaggedError<PublishRejected>()("PublishRejected", {
  /** Returned by the broker: no queue is bound for their routing key. */
  unroutable: Schema.Array(Schema.String),
  /** Negatively confirmed: the broker could not take responsibility for them (e.g. a full queue). */
  nacked: Schema.Array(Schema.String)
}) {
  get messageIds(): ReadonlyArray<string> {
    return [...this.unroutable, ...this.nacked]
  }
  override get message(): string {
    return `the broker did not take the batch: unroutable [${this.unroutable.join(", ")}], nacked [${this.nacked.join(", ")}]`
  }
}

/** No confirms within the timeout: the outcome of these messages is unknown, so treat them as not published. */
export class PublishTimeout extends Schema.TaggedError<PublishTimeout>()("PublishTimeout", {
  messageIds: Schema.Array(Schema.String),
  timeout: Schema.String
}) {
  override get message(): string {
    return `no publisher confirms within ${this.timeout} for ${this.messageIds.length} message(s)`
  }
}

/** amqplib refused to encode a message (e.g. headers over 64 KiB); retrying will not help. */
export class MessageInvalid extends Schema.TaggedError<MessageInvalid>()("MessageInvalid", {
  messageId: Schema.String,
  reason: Schema.String
}) {}

export type PublishError = BrokerUnavailable | PublishRejected | PublishTimeout | MessageInvalid

export class EventPublisher extends Context.Service<
  EventPublisher,
  {
    /** Succeeds only when the broker confirmed every message of the batch as routed. */
    readonly publishBatch: (messages: ReadonlyArray<OutgoingMessage>) => Effect.Effect<void, PublishError>
    /** A confirm channel is open and the topology declared on it: for `/readyz`. */
    readonly isReady: Effect.Effect<boolean>
  }
>()("@workstream/platform/EventPublisher") {
  static readonly layerAmqp = (options: AmqpOptions) => Layer.effect(EventPublisher, makeAmqp(options))
  /** Publishes to the in-process broker of the embedded mode, with the same confirm and return semantics. */
  static readonly layerInMemory = Layer.effect(
    EventPublisher,
    Effect.gen(function* () {
      const broker = yield* InMemoryBroker
      return EventPublisher.of({
        publishBatch: Effect.fn("EventPublisher.publishBatch")(function* (messages) {
          const nowSeconds = Math.floor((yield* Clock.currentTimeMillis) / 1000)
          const unroutable: Array<string> = []
          for (const message of messages) {
            const routed = yield* broker.publish({
              body: Buffer.from(message.body, "utf8"),
              messageId: message.messageId,
              routingKey: message.routingKey,
              headers: message.headers,
              timestamp: message.timestamp ?? nowSeconds
            })
            if (!routed) unroutable.push(message.messageId)
          }
          if (unroutable.length > 0) return yield* new PublishRejected({ unroutable, nacked: [] })
        }),
        isReady: Effect.succeed(true)
      })
    })
  )
}

export interface AmqpOptions {
  readonly topology: Topology.Topology
  /** Bound on one batch: writing it and receiving every confirm. Default 5 seconds. */
  readonly confirmTimeout?: Duration.Input
  /** Bound on opening a confirm channel, and on declaring the topology on it. Default 5 seconds. */
  readonly channelTimeout?: Duration.Input
  /** Backoff between failed attempts to (re)open the channel. Defaults 200 millis, capped at 5 seconds. */
  readonly reopenBase?: Duration.Input
  readonly reopenCap?: Duration.Input
}

const makeAmqp = Effect.fnUntraced(function* (options: AmqpOptions) {
  const connection = yield* AmqpConnection
  const { topology } = options
  const confirmTimeout = Duration.fromInputUnsafe(options.confirmTimeout ?? "5 seconds")
  const channelTimeout = Duration.fromInputUnsafe(options.channelTimeout ?? "5 seconds")
  const state = yield* SubscriptionRef.make(Option.none<OpenChannel>())
  // waitForConfirms covers every outstanding message of the channel, and returns cannot be told
  // apart by batch, so batches take turns.
  const oneBatchAtATime = yield* Semaphore.make(1)

  // The channel is in use from its topology's declaration until it closes.
  yield* onEveryConnection(
    connection,
    {
      label: "event publisher",
      openTimeout: channelTimeout,
      reopenBase: options.reopenBase ?? "200 millis",
      reopenCap: options.reopenCap ?? "5 seconds"
    },
    (open) =>
      Topology.declare(open.channel, topology).pipe(
        Effect.timeoutOrElse({
          duration: channelTimeout,
          orElse: () => Effect.fail(new BrokerUnavailable({ reason: "declaring the topology timed out" }))
        }),
        // The reset is registered before the set, so no interruption can leave a closed channel in use.
        Effect.andThen(Effect.addFinalizer(() => SubscriptionRef.set(state, Option.none()))),
        Effect.andThen(SubscriptionRef.set(state, Option.some(open)))
      )
  )

  // With the broker up, start with the channel ready; with it down, start anyway (not ready).
  // Opening the channel and declaring the topology are bounded one after the other.
  if (yield* connection.isConnected) {
    yield* SubscriptionRef.changes(state).pipe(
      Stream.filter(Option.isSome),
      Stream.runHead,
      Effect.timeoutOption(Duration.times(channelTimeout, 2))
    )
  }

  const publishBatch = Effect.fn("EventPublisher.publishBatch")(function* (messages: ReadonlyArray<OutgoingMessage>) {
    if (messages.length === 0) return
    yield* Effect.annotateCurrentSpan({
      "messaging.system": "rabbitmq",
      "messaging.destination.name": topology.exchange,
      "messaging.batch.message_count": messages.length
    })
    const open = yield* SubscriptionRef.get(state)
    if (Option.isNone(open)) {
      return yield* new BrokerUnavailable({ reason: "no confirm channel (the connection is down or reopening)" })
    }
    yield* publishOn(open.value, messages).pipe(
      Effect.scoped,
      Effect.timeoutOrElse({
        duration: confirmTimeout,
        orElse: () =>
          // The channel's state is unknown now: close it so the next batch starts on a fresh one.
          releaseQuietly(() => open.value.channel.close()).pipe(
            Effect.andThen(
              Effect.fail(
                new PublishTimeout({
                  messageIds: messages.map((m) => m.messageId),
                  timeout: Duration.format(confirmTimeout)
                })
              )
            )
          )
      })
    )
  }, oneBatchAtATime.withPermits(1))

  const publishOn = Effect.fnUntraced(function* (open: OpenChannel, messages: ReadonlyArray<OutgoingMessage>) {
    const { channel, closed } = open
    const unroutable: Array<string> = []
    const failed: Array<string> = []
    // RabbitMQ sends basic.return before the message's ack, so all returns are in once confirms are.
    const onReturn = (message: Message) => {
      const id: unknown = message.properties.messageId
      unroutable.push(typeof id === "string" ? id : "(no message id)")
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => channel.on("return", onReturn)),
      () => Effect.sync(() => channel.off("return", onReturn))
    )
    const nowSeconds = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    for (const message of messages) {
      const flushed = yield* Effect.try({
        try: () =>
          channel.publish(
            topology.exchange,
            message.routingKey,
            Buffer.from(message.body, "utf8"),
            {
              persistent: true,
              mandatory: true,
              contentType: "application/json",
              messageId: message.messageId,
              timestamp: message.timestamp ?? nowSeconds,
              headers: message.headers
            },
            // Called with an error on a nack, and also when the channel closes first (told apart below).
            (error: unknown) => {
              if (error !== null && error !== undefined) failed.push(message.messageId)
            }
          ),
        catch: (cause) =>
          cause instanceof IllegalOperationError
            ? new BrokerUnavailable({ reason: `the confirm channel closed: ${cause.message}` })
            : new MessageInvalid({ messageId: message.messageId, reason: reasonOf(cause) })
      })
      // The socket buffer is full: let it drain rather than pile the batch up in memory.
      if (!flushed) yield* Effect.raceFirst(awaitDrain(channel), Deferred.await(closed))
    }
    yield* awaitConfirms(open)
    if (unroutable.length > 0 || failed.length > 0) {
      return yield* new PublishRejected({ unroutable, nacked: failed })
    }
  })

  return EventPublisher.of({
    publishBatch,
    isReady: Effect.map(SubscriptionRef.get(state), Option.isSome)
  })
})

const awaitDrain = (channel: ConfirmChannel) =>
  Effect.callback<void>((resume) => {
    const onDrain = () => resume(Effect.void)
    channel.once("drain", onDrain)
    return Effect.sync(() => channel.off("drain", onDrain))
  })

/**
 * Waits for every outstanding confirm. amqplib's waitForConfirms rejects at the first nack
 * without waiting for the rest, so it is asked again until all are in; each round settles at
 * least one message, so this ends. If the channel closed instead, the outcome is unknown.
 */
const awaitConfirms = Effect.fnUntraced(function* (open: OpenChannel) {
  while (true) {
    const result = yield* Effect.result(Effect.tryPromise(() => open.channel.waitForConfirms()))
    if (result._tag === "Success") return
    if (Deferred.isDoneUnsafe(open.closed)) {
      return yield* new BrokerUnavailable({
        reason: "the confirm channel closed before the broker confirmed the batch"
      })
    }
  }
})
