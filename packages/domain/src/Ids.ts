/** UUIDv7 generation with the timestamp from Effect's Clock, so tests control id order. */
import { Clock, Effect, Schema } from "effect"
import { v7 } from "uuid"
import { TaskId } from "./Task.ts"
import { EventId } from "./TaskEvent.ts"

/** A fresh UUIDv7 string: 48 bits of Clock milliseconds, the rest from a CSPRNG. */
export const uuidv7: Effect.Effect<string> = Effect.map(Clock.currentTimeMillis, (msecs) => v7({ msecs }))

export const taskId: Effect.Effect<TaskId> = Effect.map(uuidv7, Schema.decodeSync(TaskId))
export const eventId: Effect.Effect<EventId> = Effect.map(uuidv7, Schema.decodeSync(EventId))
