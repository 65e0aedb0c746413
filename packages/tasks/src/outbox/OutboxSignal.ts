/**
 * Wakes this process's outbox relay as soon as a transaction that wrote outbox rows commits, so
 * an event leaves within milliseconds instead of at the next poll. Postgres' NOTIFY does the same
 * for the other replicas; where LISTEN cannot work (through PGlite's socket) this signal is all
 * there is.
 * Sliding with room for one: many commits during a drain make one more round, not many.
 */
import { Context, Effect, Layer, Queue } from "effect"

export class OutboxSignal extends Context.Service<
  OutboxSignal,
  {
    /** Call after the commit: the relay looks for new rows now. */
    readonly committed: Effect.Effect<void>
    /** What the relay waits on between rounds. */
    readonly wakes: Queue.Queue<void>
  }
>()("@workstream/tasks/OutboxSignal") {
  static readonly layer = Layer.effect(
    OutboxSignal,
    Effect.map(Queue.sliding<void>(1), (wakes) =>
      OutboxSignal.of({ committed: Effect.asVoid(Queue.offer(wakes, undefined)), wakes })
    )
  )
}
