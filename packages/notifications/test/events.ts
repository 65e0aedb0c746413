/** Events for the notifications tests, made the way the tasks service makes them. */
import { Ids, Lifecycle, TaskCommand, toEnvelope } from "@workstream/domain"
import { DateTime, Effect, Option, Result } from "effect"

/** A created-task event as the tasks service would publish it. */
export const createdEvent = Effect.gen(function* () {
  const task_id = yield* Ids.taskId
  const { events } = Result.getOrThrow(
    Lifecycle.decide(
      Option.none(),
      TaskCommand.CreateTask({ task_id, fields: { title: "Notify me" } }),
      yield* DateTime.now
    )
  )
  const [change] = events
  if (change === undefined) return yield* Effect.die("a create emits an event")
  return toEnvelope(change, { event_id: yield* Ids.eventId, trace_id: "4bf92f3577b34da6a3ce929d0e0e4736" })
})
