/** The Redis dedupe store: `SET <prefix><event_id> 1 PX <ttl>` and `EXISTS`, each bounded by a timeout. */
import { Duration, Effect, Layer, type Redacted } from "effect"
import * as RedactedValue from "effect/Redacted"
import { Redis } from "ioredis"
import { DEFAULT_PREFIX, DedupeStore, DedupeUnavailable } from "./DedupeStore.ts"

export interface RedisOptions {
  readonly url: Redacted.Redacted<string>
  readonly ttl: Duration.Duration
  readonly prefix?: string
  /** Bound on every command, connecting included. */
  readonly timeout?: Duration.Duration
}

export const dedupeInRedis = (options: RedisOptions) =>
  Layer.effect(
    DedupeStore,
    Effect.gen(function* () {
      const timeout = options.timeout ?? Duration.seconds(2)
      const prefix = options.prefix ?? DEFAULT_PREFIX
      const redis = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const client = new Redis(RedactedValue.value(options.url), {
            connectTimeout: Duration.toMillis(timeout),
            // The client's own bound on each command: an Effect timeout per command (a race and a
            // timer fiber) was a cost of its own on the per-message path, twice per message.
            commandTimeout: Duration.toMillis(timeout),
            // Fail commands at once while disconnected: the caller's Schedule decides about retrying.
            enableOfflineQueue: false,
            maxRetriesPerRequest: 0,
            lazyConnect: true,
            // Messages in flight (up to PREFETCH) ask at once: one socket write per tick, not per command.
            enableAutoPipelining: true
          })
          // Connection errors surface as failed commands; unheard, ioredis would print each one.
          client.on("error", () => undefined)
          return client
        }),
        (client) => Effect.promise(() => client.quit().catch(() => client.disconnect()))
      )
      const run = <A>(operation: string, command: () => Promise<A>) =>
        Effect.tryPromise({ try: command, catch: (cause) => new DedupeUnavailable({ operation, cause }) })
      // Connecting includes the ready check, which `connectTimeout` (the TCP connect) does not bound.
      yield* run("connect", () => redis.connect()).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.fail(new DedupeUnavailable({ operation: "connect", cause: "timed out" }))
        })
      )
      const ttl = Duration.toMillis(options.ttl)
      return DedupeStore.of({
        seen: (eventId) =>
          Effect.map(
            run("seen", () => redis.exists(prefix + eventId)),
            (n) => n === 1
          ),
        markProcessed: (eventId) =>
          Effect.asVoid(run("markProcessed", () => redis.set(prefix + eventId, "1", "PX", ttl)))
      })
    })
  )
