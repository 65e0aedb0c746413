/**
 * UUIDv7 generation with the timestamp from Effect's Clock, so tests control id order. Ids are
 * monotonic within a process (RFC 9562 §6.2, method 1: a counter seeded at random each
 * millisecond), so two ids made in the same millisecond still sort in the order they were made.
 */
import { randomFillSync, randomInt } from "node:crypto"
import { Clock, Effect, Schema } from "effect"
import { v7 } from "uuid"
import { TaskId } from "./Task.ts"
import { EventId } from "./TaskEvent.ts"

const SEQ_LIMIT = 2 ** 31
const state = { msecs: Number.NEGATIVE_INFINITY, seq: 0 }

/** The next (msecs, seq): a fresh random counter in a new millisecond, +1 within the same one. */
const advance = (now: number) => {
  if (now > state.msecs) {
    state.msecs = now
    // Seeded below half the range, so the counter cannot overflow within one millisecond in practice.
    state.seq = randomInt(SEQ_LIMIT / 2)
  } else if (++state.seq >= SEQ_LIMIT) {
    state.msecs += 1
    state.seq = 0
  }
  return { msecs: state.msecs, seq: state.seq }
}

// Random bytes drawn 4 KB at a time, as Node's randomUUID batches its own: otherwise uuid asks the
// CSPRNG for 16 bytes per id, a call into native code each (1.5 us an id, against 0.2 from the pool).
const pool = new Uint8Array(4096)
let drawn = pool.length

const randomBytes16 = () => {
  if (drawn + 16 > pool.length) {
    randomFillSync(pool)
    drawn = 0
  }
  drawn += 16
  return pool.subarray(drawn - 16, drawn)
}

/** A fresh UUIDv7 string: 48 bits of Clock milliseconds, a 31-bit counter, random bits from a CSPRNG. */
export const uuidv7: Effect.Effect<string> = Effect.flatMap(Clock.currentTimeMillis, (now) =>
  Effect.sync(() => v7({ ...advance(now), random: randomBytes16() }))
)

export const taskId: Effect.Effect<TaskId> = Effect.map(uuidv7, Schema.decodeSync(TaskId))
export const eventId: Effect.Effect<EventId> = Effect.map(uuidv7, Schema.decodeSync(EventId))
