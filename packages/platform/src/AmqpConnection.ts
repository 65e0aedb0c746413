/**
 * The process's AMQP connection to RabbitMQ as a scoped Layer. It connects on start, reconnects
 * by itself whenever the connection drops (jittered exponential backoff, each attempt bounded by
 * a connect timeout, forever while the scope is open) and closes with the scope. Channels belong
 * to their users, who watch `changes` and open theirs again on every new connection.
 */
import * as amqp from "amqplib"
import {
  Context,
  Deferred,
  Duration,
  Effect,
  Layer,
  Option,
  Redacted,
  Schedule,
  Schema,
  type Stream,
  SubscriptionRef
} from "effect"
import { acquireScoped, reasonOf } from "./internal/acquire.ts"

export class BrokerUnavailable extends Schema.TaggedError<BrokerUnavailable>()("BrokerUnavailable", {
  reason: Schema.String
}) {
  override get message(): string {
    return `RabbitMQ is unavailable: ${this.reason}`
  }
}

export interface Options {
  readonly url: string | Redacted.Redacted<string>
  /** The `connection_name` client property: how operators (and tests) find it in `rabbitmqctl list_connections`. */
  readonly connectionName: string
  /** Bound on one attempt: TCP connect plus the AMQP handshake. Default 5 seconds. */
  readonly connectTimeout?: Duration.Input
  /** First delay between failed attempts, doubled each time. Default 200 millis. */
  readonly reconnectBase?: Duration.Input
  /** Longest delay between attempts. Default 10 seconds. */
  readonly reconnectCap?: Duration.Input
}

/** Exponential from `base`, capped at `cap`, with jitter so replicas don't reconnect in lockstep; never gives up. */
export const reconnectSchedule = (base: Duration.Input, cap: Duration.Input) =>
  Schedule.min([Schedule.exponential(base), Schedule.spaced(cap)]).pipe(Schedule.jittered)

interface Live {
  readonly model: amqp.ChannelModel
  /** Completes with the close reason when the connection closes, from either side. */
  readonly closed: Deferred.Deferred<string>
}

export class AmqpConnection extends Context.Service<
  AmqpConnection,
  {
    readonly connectionName: string
    /** The live connection, or none while (re)connecting. */
    readonly current: Effect.Effect<Option.Option<amqp.ChannelModel>>
    /** The current value, then every change: some on each (re)connect, none on each loss. */
    readonly changes: Stream.Stream<Option.Option<amqp.ChannelModel>>
    readonly isConnected: Effect.Effect<boolean>
    /** Succeeds while connected: register it with `Health.Readiness` for `/readyz`. */
    readonly check: Effect.Effect<void, BrokerUnavailable>
    /** The live connection, failing fast while there is none (callers retry with their own Schedule). */
    readonly get: Effect.Effect<amqp.ChannelModel, BrokerUnavailable>
  }
>()("@workstream/platform/AmqpConnection") {
  /**
   * Waits for the first connection attempt only, so a service whose broker is down still starts
   * (and reports not ready) while the connection keeps retrying in the background.
   */
  static readonly layer = (options: Options) => Layer.effect(AmqpConnection, make(options))
}

const make = Effect.fnUntraced(function* (options: Options) {
  const name = options.connectionName
  const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
  const connectTimeout = Duration.fromInputUnsafe(options.connectTimeout ?? "5 seconds")
  const schedule = reconnectSchedule(options.reconnectBase ?? "200 millis", options.reconnectCap ?? "10 seconds")
  const ref = yield* SubscriptionRef.make(Option.none<amqp.ChannelModel>())
  const firstAttempt = yield* Deferred.make<void>()

  const connectOnce = acquireScoped({
    acquire: () =>
      amqp.connect(url, {
        clientProperties: { connection_name: name },
        // amqplib's own socket timeout also covers the handshake and closes the socket it opened.
        timeout: Duration.toMillis(connectTimeout)
      }),
    prepare: (model): Live => {
      const closed = Deferred.makeUnsafe<string>()
      // amqplib emits 'error' before 'close' when the broker closes the connection; the reason
      // arrives again with 'close', and an 'error' without a listener would crash the process.
      model.on("error", () => undefined)
      model.once("close", (error?: Error) => {
        Deferred.doneUnsafe(closed, Effect.succeed(error === undefined ? "closed" : error.message))
      })
      return { model, closed }
    },
    release: (model) => model.close(),
    onError: (cause) => new BrokerUnavailable({ reason: reasonOf(cause) })
  }).pipe(
    Effect.timeoutOrElse({
      duration: connectTimeout,
      orElse: () =>
        Effect.fail(new BrokerUnavailable({ reason: `no connection within ${Duration.format(connectTimeout)}` }))
    }),
    Effect.tapError((error) => Effect.logWarning(`amqp ${name}: connecting failed, will retry: ${error.reason}`)),
    // A failed first attempt ends the wait at start; a successful one ends it once the connection is published.
    Effect.onError(() => Deferred.succeed(firstAttempt, undefined))
  )

  /** One connection's life. The retry is inside, so the backoff starts afresh after each loss. */
  const session = Effect.scoped(
    Effect.gen(function* () {
      const live = yield* Effect.retry(connectOnce, schedule)
      yield* SubscriptionRef.set(ref, Option.some(live.model))
      yield* Deferred.succeed(firstAttempt, undefined)
      yield* Effect.logInfo(`amqp ${name}: connected`)
      const reason = yield* Deferred.await(live.closed).pipe(
        // Users see "none" before the scope closes the connection, also on shutdown.
        Effect.ensuring(SubscriptionRef.set(ref, Option.none()))
      )
      yield* Effect.logWarning(`amqp ${name}: connection lost, reconnecting: ${reason}`)
    })
  )

  yield* Effect.forkScoped(Effect.forever(session))
  yield* Deferred.await(firstAttempt)

  const current = SubscriptionRef.get(ref)
  const get = Effect.flatMap(current, (model) =>
    Effect.mapError(Effect.fromOption(model), () => new BrokerUnavailable({ reason: `connection ${name} is down` }))
  )
  return AmqpConnection.of({
    connectionName: name,
    current,
    changes: SubscriptionRef.changes(ref),
    isConnected: Effect.map(current, Option.isSome),
    check: Effect.asVoid(get),
    get
  })
})
