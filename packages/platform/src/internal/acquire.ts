/**
 * Bridges amqplib's promise-returning acquisitions (connect, createConfirmChannel) into scoped
 * Effect resources. amqplib takes no AbortSignal, so a timeout or a shutdown that interrupts
 * the wait must not leak what the promise delivers later: that late resource is released at once.
 */
import { Duration, Effect, type Scope } from "effect"

const RELEASE_TIMEOUT = Duration.seconds(2)

const ignore = (): void => undefined

export interface Acquisition<A, B, E> {
  readonly acquire: () => Promise<A>
  /**
   * Runs synchronously the moment the resource exists, before any event can fire unobserved:
   * attach `error`/`close` listeners here (an EventEmitter `error` without a listener crashes the
   * process). Returns the handle the caller gets.
   */
  readonly prepare: (resource: A) => B
  readonly release: (resource: A) => Promise<unknown>
  readonly onError: (cause: unknown) => E
}

/** Closes a resource, ignoring "already closed" and bounding the wait: used in finalizers. */
export const releaseQuietly = (release: () => Promise<unknown>): Effect.Effect<void> =>
  Effect.tryPromise(release).pipe(Effect.timeout(RELEASE_TIMEOUT), Effect.ignore)

/** Acquires into the current scope; the resource is released when the scope closes. */
export const acquireScoped = <A, B, E>(acquisition: Acquisition<A, B, E>): Effect.Effect<B, E, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    restore(
      Effect.callback<readonly [A, B], E>((resume, signal) => {
        acquisition.acquire().then(
          (resource) => {
            const handle = acquisition.prepare(resource)
            // Interrupted while the promise was pending: nobody owns the resource, release it now.
            if (signal.aborted) acquisition.release(resource).then(ignore, ignore)
            else resume(Effect.succeed([resource, handle] as const))
          },
          (cause: unknown) => resume(Effect.fail(acquisition.onError(cause)))
        )
      })
    ).pipe(
      Effect.tap(([resource]) => Effect.addFinalizer(() => releaseQuietly(() => acquisition.release(resource)))),
      Effect.map(([, handle]) => handle)
    )
  )

/** A readable reason from whatever a rejected amqplib promise carried. */
export const reasonOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))
