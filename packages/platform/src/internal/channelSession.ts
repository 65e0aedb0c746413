/**
 * A confirm channel's life, shared by the event source and the publisher: a channel is opened on
 * each connection the broker gives, again with backoff whenever it closes while its connection
 * lives on, and interrupted when the connection changes.
 */
import type { ChannelModel, ConfirmChannel } from "amqplib"
import { Deferred, type Duration, Effect, Option, type Scope, Stream } from "effect"
import { type AmqpConnection, BrokerUnavailable, reconnectSchedule } from "../AmqpConnection.ts"
import { acquireScoped, reasonOf } from "./acquire.ts"

export interface OpenChannel {
  readonly channel: ConfirmChannel
  /** Completes with the reason when the channel closes (its own error, or its connection's end). */
  readonly closed: Deferred.Deferred<string>
}

/**
 * A confirm channel for the scope's lifetime. Its listeners are attached the moment it exists (an
 * `error` without one would crash the process), and one that arrives after the timeout is closed.
 */
export const openConfirmChannel = (
  model: ChannelModel,
  timeout: Duration.Input
): Effect.Effect<OpenChannel, BrokerUnavailable, Scope.Scope> =>
  acquireScoped({
    acquire: () => model.createConfirmChannel(),
    prepare: (channel): OpenChannel => {
      const closed = Deferred.makeUnsafe<string>()
      let reason = "closed without a channel error"
      // A channel error (e.g. 404 on a deleted exchange) is followed by 'close'.
      channel.on("error", (error: Error) => {
        reason = error.message
      })
      channel.once("close", () => Deferred.doneUnsafe(closed, Effect.succeed(reason)))
      return { channel, closed }
    },
    release: (channel) => channel.close(),
    onError: (cause) => new BrokerUnavailable({ reason: `opening a channel failed: ${reasonOf(cause)}` })
  }).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(new BrokerUnavailable({ reason: "opening a channel timed out" }))
    })
  )

export interface SessionOptions {
  /** Who serves the channel, for the log: "consumer", "event publisher". */
  readonly label: string
  /** Bound on opening the channel. */
  readonly openTimeout: Duration.Input
  /** Backoff between failed sessions on one connection. */
  readonly reopenBase: Duration.Input
  readonly reopenCap: Duration.Input
}

/**
 * Runs `serve` on a fresh channel of every connection, forked into the scope, until the scope
 * closes. `serve` sets the channel up and returns; the session then lasts until the channel
 * closes, and its scope (finalizers `serve` added included) closes with it.
 */
export const onEveryConnection = <E extends { readonly message: string }, R>(
  connection: AmqpConnection["Service"],
  options: SessionOptions,
  serve: (open: OpenChannel) => Effect.Effect<void, E, R | Scope.Scope>
): Effect.Effect<void, never, Exclude<R, Scope.Scope> | Scope.Scope> => {
  const session = (model: ChannelModel) =>
    Effect.scoped(
      Effect.gen(function* () {
        const open = yield* openConfirmChannel(model, options.openTimeout)
        yield* serve(open)
        const reason = yield* Deferred.await(open.closed)
        return yield* new BrokerUnavailable({ reason: `the ${options.label}'s channel closed: ${reason}` })
      })
    ).pipe(
      Effect.tapError((error) => Effect.logWarning(`${options.label}: ${error.message}; reopening`)),
      // Forever, until the connection changes (switchMap then interrupts this session).
      Effect.retry(reconnectSchedule(options.reopenBase, options.reopenCap))
    )
  return connection.changes.pipe(
    Stream.switchMap(
      Option.match({ onNone: () => Stream.empty, onSome: (model) => Stream.fromEffect(session(model)) })
    ),
    Stream.runDrain,
    Effect.forkScoped,
    Effect.asVoid
  )
}
