/**
 * An in-process broker with the semantics Workstream relies on from its RabbitMQ topology, for
 * the embedded mode and fast tests: the exchange routes by topic to the notifications queue (a
 * message nothing is bound for is returned, like `mandatory`), consumers take at most `prefetch`
 * unacked messages, a consumer that goes away hands its unacked messages back for redelivery, a
 * retry queue hands a message back to the main queue after its delay (on the Clock), and a message
 * returned more than `deliveryLimit` times without an ack goes to the DLQ (the quorum queue's
 * backstop).
 * Nothing outlives the process.
 */
import { Context, Effect, FiberSet, Layer, MutableList, type Scope } from "effect"
import type * as Topology from "./Topology.ts"

export interface BrokerMessage {
  readonly body: Uint8Array
  readonly messageId: string
  readonly routingKey: string
  readonly headers: Readonly<Record<string, unknown>>
  /** Unix seconds, as in AMQP. */
  readonly timestamp: number
}

export interface InMemoryDelivery {
  readonly message: BrokerMessage
  /** Delivered before and handed back (nacked, or its consumer went away). */
  readonly redelivered: boolean
  /** Idempotent; the slot it held is free for the next message. */
  readonly ack: () => void
  /** Hands the message back (to the front, or to the DLQ past the delivery limit); no-op once acked. */
  readonly nack: () => void
}

interface Entry {
  readonly message: BrokerMessage
  deliveries: number
}

interface Consumer {
  readonly prefetch: number
  /** Takes no new messages; those it holds can still be acked until it is released. */
  cancelled: boolean
  readonly unacked: Set<Entry>
  readonly deliver: (delivery: InMemoryDelivery) => void
}

interface QueueState {
  // A linked list, not an array: shifting a large array moves every element, so a backlog of tens
  // of thousands made each delivery cost the whole backlog (18 % of the embedded consumer's CPU).
  readonly ready: MutableList.MutableList<Entry>
  readonly consumers: Array<Consumer>
  /** Round-robin position among the consumers. */
  next: number
}

/** RabbitMQ's topic matching: `*` is one word, `#` is zero or more. */
export const topicMatches = (pattern: string, key: string): boolean => {
  const match = (p: ReadonlyArray<string>, k: ReadonlyArray<string>): boolean => {
    if (p.length === 0) return k.length === 0
    const [head, ...rest] = p
    if (head === "#") return match(rest, k) || (k.length > 0 && match(p, k.slice(1)))
    return k.length > 0 && (head === "*" || head === k[0]) && match(rest, k.slice(1))
  }
  return match(pattern.split("."), key.split("."))
}

export class InMemoryBroker extends Context.Service<
  InMemoryBroker,
  {
    readonly topology: Topology.Topology
    /** Routes through the exchange; `false` when no queue is bound for the routing key. */
    readonly publish: (message: BrokerMessage) => Effect.Effect<boolean>
    /** Straight to a queue of the topology (retry queues hand it back to the main queue after their delay). */
    readonly sendToQueue: (queue: string, message: BrokerMessage) => Effect.Effect<void>
    /**
     * Delivers from a queue until `cancel` (then it takes no new messages, but may still ack those
     * it holds) or the scope closes (then its unacked messages go back to the queue).
     */
    readonly consume: (
      queue: string,
      prefetch: number,
      deliver: (delivery: InMemoryDelivery) => void
    ) => Effect.Effect<{ readonly cancel: Effect.Effect<void> }, never, Scope.Scope>
    /** Messages waiting (not delivered) in a queue. */
    readonly depth: (queue: string) => Effect.Effect<number>
    /** Removes and returns every waiting message of a queue: for operators' tools and tests. */
    readonly take: (queue: string) => Effect.Effect<ReadonlyArray<BrokerMessage>>
  }
>()("@workstream/platform/InMemoryBroker") {
  static readonly layer = (topology: Topology.Topology) => Layer.effect(InMemoryBroker, make(topology))
}

const make = Effect.fnUntraced(function* (topology: Topology.Topology) {
  const queues = new Map<string, QueueState>()
  const queueOf = (name: string): QueueState => {
    let state = queues.get(name)
    if (state === undefined) {
      state = { ready: MutableList.make(), consumers: [], next: 0 }
      queues.set(name, state)
    }
    return state
  }
  const delays = new Map(topology.retryQueues.map((retry) => [retry.name, retry.delay]))
  // Timers of messages waiting in retry queues: they end with the broker.
  const timers = yield* FiberSet.make()

  /** Hands ready messages to consumers with room, round robin. */
  const dispatchQueue = (name: string): void => {
    const state = queueOf(name)
    while (state.ready.length > 0) {
      const consumers = state.consumers.length
      let consumer: Consumer | undefined
      for (let i = 0; i < consumers && consumer === undefined; i++) {
        const candidate = state.consumers[(state.next + i) % consumers]
        if (candidate !== undefined && !candidate.cancelled && candidate.unacked.size < candidate.prefetch) {
          consumer = candidate
          state.next = (state.next + i + 1) % consumers
        }
      }
      if (consumer === undefined) return
      const entry = MutableList.take(state.ready)
      if (entry === MutableList.Empty) return
      const holder = consumer
      entry.deliveries += 1
      holder.unacked.add(entry)
      holder.deliver({
        message: entry.message,
        redelivered: entry.deliveries > 1,
        ack: () => {
          if (holder.unacked.delete(entry)) dispatch(name)
        },
        nack: () => {
          if (holder.unacked.delete(entry)) requeue(name, [entry])
        }
      })
    }
  }

  // A handler may run, and ack, inside `deliver`: an ack during a dispatch only notes the queue
  // for the loop below, so a backlog is worked off iteratively instead of one stack frame deeper
  // per message.
  const dirty = new Set<string>()
  let dispatching = false
  const dispatch = (name: string): void => {
    dirty.add(name)
    if (dispatching) return
    dispatching = true
    try {
      for (let next = dirty.values().next(); !next.done; next = dirty.values().next()) {
        dirty.delete(next.value)
        dispatchQueue(next.value)
      }
    } finally {
      dispatching = false
    }
  }

  const enqueue = (name: string, entry: Entry, front = false): void => {
    const state = queueOf(name)
    if (front) MutableList.prepend(state.ready, entry)
    else MutableList.append(state.ready, entry)
    dispatch(name)
  }

  /** Unacked messages handed back (nacked, or their consumer went away): to the front, or to the DLQ past the limit. */
  const requeue = (name: string, entries: ReadonlyArray<Entry>): void => {
    for (const entry of [...entries].reverse()) {
      // As a quorum queue: dead-lettered once returned more times than the limit.
      if (name === topology.queue.name && entry.deliveries > topology.deliveryLimit) {
        const headers = { ...entry.message.headers, "x-delivery-count": entry.deliveries }
        enqueue(topology.deadLetterQueue.name, { message: { ...entry.message, headers }, deliveries: 0 })
      } else {
        enqueue(name, entry, true)
      }
    }
  }

  const sendToQueue = (queue: string, message: BrokerMessage) => {
    const delay = delays.get(queue)
    if (delay === undefined) return Effect.sync(() => enqueue(queue, { message, deliveries: 0 }))
    return FiberSet.run(
      timers,
      Effect.sleep(delay).pipe(
        Effect.andThen(Effect.sync(() => enqueue(topology.queue.name, { message, deliveries: 0 })))
      )
    ).pipe(Effect.asVoid)
  }

  return InMemoryBroker.of({
    topology,
    publish: (message) =>
      Effect.sync(() => {
        if (!topicMatches(topology.bindingKey, message.routingKey)) return false
        enqueue(topology.queue.name, { message, deliveries: 0 })
        return true
      }),
    sendToQueue,
    consume: (queue, prefetch, deliver) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const consumer: Consumer = { prefetch, cancelled: false, unacked: new Set(), deliver }
          queueOf(queue).consumers.push(consumer)
          dispatch(queue)
          return consumer
        }),
        (consumer) =>
          Effect.sync(() => {
            const state = queueOf(queue)
            state.consumers.splice(state.consumers.indexOf(consumer), 1)
            const unacked = [...consumer.unacked]
            consumer.unacked.clear()
            requeue(queue, unacked)
          })
      ).pipe(
        Effect.map((consumer) => ({
          cancel: Effect.sync(() => {
            consumer.cancelled = true
          })
        }))
      ),
    depth: (queue) => Effect.sync(() => queueOf(queue).ready.length),
    take: (queue) => Effect.sync(() => MutableList.takeAll(queueOf(queue).ready).map((entry) => entry.message))
  })
})
