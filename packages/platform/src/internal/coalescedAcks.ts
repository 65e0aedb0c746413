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

interface Delivered {
  /** Kept only until it is acked or requeued: one held message must not keep those passed since. */
  message: ConsumeMessage | undefined
  /** in hand; settled: to ack at the turn's end; gone: acked or requeued. */
  state: "in hand" | "settled" | "gone"
}

export interface CoalescedAcks {
  /** A message just delivered: its ack and its requeue; only the first call of either counts. */
  readonly deliver: (message: ConsumeMessage) => { readonly ack: () => void; readonly requeue: () => void }
  /** Sends the acks settled so far now (the channel is about to close). */
  readonly flush: () => void
}

export const coalescedAcks = (channel: Channel): CoalescedAcks => {
  // In delivery order, so in delivery-tag order; those before `front` are gone.
  let unacked: Array<Delivered> = []
  let front = 0
  // Settled since the last flush: the ones left behind a message in hand are acked alone. Kept
  // apart so a flush never walks the messages passed while one is held (a slow handler).
  let settled: Array<Delivered> = []
  let scheduled = false
  const pass = (entry: Delivered) => {
    entry.state = "gone"
    entry.message = undefined
  }
  // On a channel that has closed, amqplib throws: the broker has handed its messages back already.
  const send = (frame: (message: ConsumeMessage) => void, entry: Delivered) => {
    const { message } = entry
    pass(entry)
    if (message === undefined) return
    try {
      frame(message)
    } catch {}
  }
  const flush = () => {
    scheduled = false
    let last: Delivered | undefined
    for (let entry = unacked[front]; entry !== undefined && entry.state !== "in hand"; entry = unacked[++front]) {
      if (entry.state !== "settled") continue
      if (last !== undefined) pass(last)
      last = entry
    }
    // One ack of the last settled message covers the others before it: they are marked gone, and
    // those acked alone or requeued earlier are no longer the broker's to count.
    if (last !== undefined) send((message) => channel.ack(message, true), last)
    // Compacted once the gone ones are the larger part: each entry is copied a bounded number of times.
    if (front > unacked.length / 2) {
      unacked = unacked.slice(front)
      front = 0
    }
    for (const entry of settled) {
      if (entry.state === "settled") send((message) => channel.ack(message), entry)
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
      const entry: Delivered = { message, state: "in hand" }
      unacked.push(entry)
      return {
        ack: () => {
          if (entry.state !== "in hand") return
          entry.state = "settled"
          settled.push(entry)
          schedule()
        },
        requeue: () => {
          if (entry.state === "in hand") send((m) => channel.nack(m, false, true), entry)
        }
      }
    },
    flush
  }
}
