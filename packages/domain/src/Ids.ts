/** UUIDv7 generation with the timestamp from Effect's Clock, so tests control id order. */
import { Clock, Effect } from "effect"
import { v7 } from "uuid"

/** A fresh UUIDv7 string: 48 bits of Clock milliseconds, the rest from a CSPRNG. */
export const uuidv7: Effect.Effect<string> = Effect.map(Clock.currentTimeMillis, (msecs) => v7({ msecs }))
