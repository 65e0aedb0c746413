/**
 * A circuit breaker for the tasks service: after `threshold` consecutive failures that mean
 * "the service is down", calls fail at once for `cooldown` instead of queueing behind
 * timeouts; then one trial call is let through, and its outcome closes or reopens the circuit.
 */
import { Cause, Clock, Duration, Effect, Exit, Option, Schema } from "effect"

export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {}) {
  override get message(): string {
    return "the tasks service is failing; calls are refused until it recovers"
  }
}

type State =
  | { readonly _tag: "Closed"; readonly failures: number }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen" }

/** How a call let through ended, as far as the circuit cares. */
type Outcome = "success" | "outage" | "other failure" | "interrupted"

export interface CircuitBreaker {
  /** Runs `effect` unless the circuit is open; `isOutage` says which failures count against it. */
  readonly protect: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    isOutage: (error: E) => boolean
  ) => Effect.Effect<A, E | CircuitOpen, R>
  readonly isOpen: Effect.Effect<boolean>
}

const CLOSED: State = { _tag: "Closed", failures: 0 }

const outcomeOf = <A, E>(exit: Exit.Exit<A, E>, isOutage: (error: E) => boolean): Outcome => {
  if (Exit.isSuccess(exit)) return "success"
  // A caller that gave up says nothing about the service.
  if (Cause.hasInterruptsOnly(exit.cause)) return "interrupted"
  // Only typed failures the caller calls outages count; a defect here is ours, not theirs.
  return Cause.findErrorOption(exit.cause).pipe(Option.match({ onNone: () => false, onSome: isOutage }))
    ? "outage"
    : "other failure"
}

/**
 * The state is a plain variable read and written synchronously (one event loop, no await between
 * the read and the write): a call through a closed circuit costs a comparison and one exit hook,
 * not a chain of effects; the clock is read only where the state depends on time.
 */
export const make = (options: { readonly threshold: number; readonly cooldown: Duration.Duration }) =>
  Clock.clockWith((clock) =>
    Effect.sync((): CircuitBreaker => {
      let state: State = CLOSED
      const cooldown = Duration.toMillis(options.cooldown)
      const reopened = (): State => ({ _tag: "Open", until: clock.currentTimeMillisUnsafe() + cooldown })

      /** Whether this call may go through, moving Open -> HalfOpen (one trial) once the cooldown passed. */
      const admit = (): boolean => {
        if (state._tag === "Closed") return true
        if (state._tag === "Open" && clock.currentTimeMillisUnsafe() >= state.until) {
          state = { _tag: "HalfOpen" }
          return true
        }
        return false
      }

      const settle = (outcome: Outcome): State => {
        if (outcome === "success" || outcome === "other failure") return CLOSED
        // An interrupted trial must not leave the circuit half-open forever: it reopens, and the
        // next cooldown tries again.
        if (outcome === "interrupted") return state._tag === "HalfOpen" ? reopened() : state
        if (state._tag === "HalfOpen") return reopened()
        const failures = state._tag === "Closed" ? state.failures + 1 : options.threshold
        return failures >= options.threshold ? reopened() : { _tag: "Closed", failures }
      }

      return {
        // Uninterruptible from the admission to the exit hook's installation: a call interrupted
        // in between would leave a trial's circuit half-open, refusing every call for good.
        protect: <A, E, R>(effect: Effect.Effect<A, E, R>, isOutage: (error: E) => boolean) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.suspend(
              (): Effect.Effect<A, E | CircuitOpen, R> =>
                admit()
                  ? Effect.onExit(restore(effect), (exit) =>
                      Effect.sync(() => {
                        state = settle(outcomeOf(exit, isOutage))
                      })
                    )
                  : Effect.fail(new CircuitOpen())
            )
          ),
        isOpen: Effect.sync(() => state._tag === "Open")
      }
    })
  )
