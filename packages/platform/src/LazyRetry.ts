/**
 * `Effect.retry` that sets its machinery up only once the first attempt has failed. Effect.retry
 * builds its schedule's state and provides `Schedule.CurrentMetadata` (a copy of the fiber's whole
 * Context) before the first attempt, so a per-request path that nearly always succeeds pays for
 * retries it never makes: about 3 KB of garbage per message in the consumer.
 *
 *   LazyRetry.retry(call, (again) => Effect.retry(again, { schedule, while: isTransient }))
 *
 * `again` fails with the first attempt's error when first run, then is the effect itself: the
 * policy sees the same failures, in the same order, as `Effect.retry(call, policy)` would. Only
 * the first attempt differs: it runs without `Schedule.CurrentMetadata` provided (nothing here
 * reads it).
 */
import { Effect } from "effect"

export const retry = <A, E, R, E2, R2>(
  self: Effect.Effect<A, E, R>,
  retrying: (again: Effect.Effect<A, E, R>) => Effect.Effect<A, E2, R2>
): Effect.Effect<A, E2, R | R2> =>
  Effect.catch(self, (first) => {
    let replayed = false
    return retrying(
      Effect.suspend(() => {
        if (replayed) return self
        replayed = true
        return Effect.fail(first)
      })
    )
  })
