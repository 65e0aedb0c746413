/**
 * One consuming channel's acks, coalesced: the messages settled in one turn of the event loop are
 * acked together at its end. The settled run at the front of the channel's unacked messages goes
 * as a single `basic.ack` with `multiple` (delivery tags rise in delivery order); a message settled
 * behind one still in hand is acked alone, so it does not hold its prefetch slot while that one
 * retries. A requeue goes at once. Nothing is acked twice: RabbitMQ closes a channel on an
 * unknown delivery tag.
 *
 * One frame per message cost a socket write each and the broker a frame each.
 */
import type { Channel, ConsumeMessage } from "amqplib"

interface Held {
  readonly message: ConsumeMessage
  /** held: in hand; settled: to ack at the turn's end; gone: acked or requeued. */
  state: "held" | "settled" | "gone"
}

export interface CoalescedAcks {
  /** A message just delivered: its ack and its requeue, each to be called at most once (either). */
  readonly deliver: (message: ConsumeMessage) => { readonly ack: () => void; readonly requeue: () => void }
  /** Sends the acks settled so far now (the channel is about to close). */
  readonly flush: () => void
}

export const coalescedAcks = (channel: Channel): CoalescedAcks => {
  // In delivery order, so in delivery-tag order; those before `front` are gone.
  let held: Array<Held> = []
  let front = 0
  // Settled since the last flush: the ones left behind a message in hand are acked alone. Kept
  // apart so a flush never walks the messages passed while one is held (a slow handler).
  let settled: Array<Held> = []
  let scheduled = false
  // On a channel that has closed, amqplib throws: the broker has handed its messages back already.
  const safely = (send: () => void) => {
    try {
      send()
    } catch {}
  }
  const flush = () => {
    scheduled = false
    let last: ConsumeMessage | undefined
    for (let entry = held[front]; entry !== undefined && entry.state !== "held"; entry = held[++front]) {
      if (entry.state === "settled") {
        entry.state = "gone"
        last = entry.message
      }
    }
    if (last !== undefined) {
      const upTo = last
      safely(() => channel.ack(upTo, true))
    }
    // Compacted once the gone ones are the larger part: each entry is copied a bounded number of times.
    if (front > held.length / 2) {
      held = held.slice(front)
      front = 0
    }
    for (const entry of settled) {
      if (entry.state === "settled") {
        entry.state = "gone"
        safely(() => channel.ack(entry.message))
      }
    }
    settled = []
  }
  const schedule = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(flush)
  }
  return {
    deliver: (message) => {
      const entry: Held = { message, state: "held" }
      held.push(entry)
      return {
        ack: () => {
          entry.state = "settled"
          settled.push(entry)
          schedule()
        },
        requeue: () => {
          entry.state = "gone"
          safely(() => channel.nack(message, false, true))
          schedule()
        }
      }
    },
    flush
  }
}
