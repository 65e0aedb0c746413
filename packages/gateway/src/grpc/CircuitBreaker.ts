/**
 * A circuit breaker for the tasks service: after `threshold` consecutive failures that mean
 * "the service is down", calls fail at once for `cooldown` instead of queueing behind
 * timeouts; then one trial call is let through, and its outcome closes or reopens the circuit.
 */
import { Cause, Clock, Duration, Effect, Exit, Option, Ref, Schema } from "effect"

export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {}) {
  override get message(): string {
    return "the tasks service is failing; calls are refused until it recovers"
  }
}

type State =
  | { readonly _tag: "Closed"; readonly failures: number }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen" }

export interface CircuitBreaker {
  /** Runs `effect` unless the circuit is open; `isOutage` says which failures count against it. */
  readonly protect: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    isOutage: (error: E) => boolean
  ) => Effect.Effect<A, E | CircuitOpen, R>
  readonly isOpen: Effect.Effect<boolean>
}

export const make = (options: { readonly threshold: number; readonly cooldown: Duration.Duration }) =>
  Effect.gen(function* () {
    const state = yield* Ref.make<State>({ _tag: "Closed", failures: 0 })
    const cooldown = Duration.toMillis(options.cooldown)

    /** Decides whether this call may go through, moving Open -> HalfOpen once the cooldown passed. */
    const admit = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      return yield* Ref.modify(state, (s): readonly [boolean, State] => {
        if (s._tag === "Closed") return [true, s]
        if (s._tag === "Open" && now >= s.until) return [true, { _tag: "HalfOpen" }]
        return [false, s]
      })
    })

    const record = (outage: boolean) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* Ref.update(state, (s): State => {
          if (!outage) return { _tag: "Closed", failures: 0 }
          if (s._tag === "HalfOpen") return { _tag: "Open", until: now + cooldown }
          const failures = s._tag === "Closed" ? s.failures + 1 : options.threshold
          return failures >= options.threshold ? { _tag: "Open", until: now + cooldown } : { _tag: "Closed", failures }
        })
      })

    const reopenIfHalfOpen = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(state, (s): State => (s._tag === "HalfOpen" ? { _tag: "Open", until: now + cooldown } : s))
    )

    const breaker: CircuitBreaker = {
      protect: (effect, isOutage) =>
        Effect.gen(function* () {
          if (!(yield* admit)) return yield* new CircuitOpen()
          return yield* effect.pipe(
            Effect.onExit((exit) => {
              if (Exit.isSuccess(exit)) return record(false)
              // A caller that gave up says nothing about the service, but an interrupted trial must
              // not leave the circuit half-open forever: it reopens, and the next cooldown retries.
              if (Cause.hasInterruptsOnly(exit.cause)) return reopenIfHalfOpen
              // Only typed failures the caller calls outages count; a defect here is ours, not theirs.
              return record(
                Cause.findErrorOption(exit.cause).pipe(Option.match({ onNone: () => false, onSome: isOutage }))
              )
            })
          )
        }),
      isOpen: Effect.map(Ref.get(state), (s) => s._tag === "Open")
    }
    return breaker
  })
