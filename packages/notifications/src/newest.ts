/**
 * The in-memory stores (records, dead letters, the embedded mode's dedupe marks) keep only their
 * newest entries: kept without bound, they grew with every event for as long as the process lived.
 */

/** How many entries each in-memory store keeps unless told otherwise (NOTIFICATION_MEMORY_LIMIT). */
export const DEFAULT_MEMORY_LIMIT = 10_000

/**
 * The newest `limit` values, each new one overwriting the oldest; unordered. Beside a Map it keeps
 * the age order cheaply: deleting a Map's first key walks past every slot deleted before it (3.6 us
 * an insert at 10,000 entries, against 0.08 with the ring).
 */
export const ring = <V>(limit: number) => {
  // NOTIFICATION_MEMORY_LIMIT is checked as it is read; this is for direct callers.
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`an in-memory store's limit must be a whole number of at least 1, not ${limit}`)
  }
  const slots: Array<V> = []
  let next = 0
  return {
    slots,
    /** Stores `value` and returns the value it displaced, if the ring was full. */
    push: (value: V): V | undefined => {
      const displaced = slots[next]
      slots[next] = value
      next = (next + 1) % limit
      return displaced
    }
  }
}

/**
 * A Map of the newest `limit` keys: a new key displaces the oldest, and setting a kept key changes
 * its value, not its age. Changed in place, one synchronous step per call.
 */
export const newestMap = <K, V>(limit: number) => {
  const entries = new Map<K, V>()
  const order = ring<K>(limit)
  return {
    entries: entries as ReadonlyMap<K, V>,
    set: (key: K, value: V): void => {
      if (!entries.has(key)) {
        const oldest = order.push(key)
        if (oldest !== undefined) entries.delete(oldest)
      }
      entries.set(key, value)
    }
  }
}
