import { Duration, Effect, Layer } from "effect"
import { EventPublisher } from "../../src/EventPublisher.ts"
import { EventSource } from "../../src/EventSource.ts"
import { InMemoryBroker } from "../../src/InMemoryBroker.ts"
import * as Topology from "../../src/Topology.ts"
import { contract, QueueReader } from "./contract.ts"

const reader = Layer.effect(
  QueueReader,
  Effect.map(Effect.service(InMemoryBroker), (broker) =>
    QueueReader.of({
      takeAll: (queue) =>
        Effect.map(broker.take(queue), (messages) =>
          messages.map((m) => ({
            messageId: m.messageId,
            body: Buffer.from(m.body).toString("utf8"),
            headers: m.headers
          }))
        )
    })
  )
)

contract("in-memory broker", (prefetch) =>
  Layer.mergeAll(EventPublisher.layerInMemory, EventSource.layerInMemory({ prefetch }), reader).pipe(
    Layer.provideMerge(InMemoryBroker.layer(Topology.make({ retryDelays: [Duration.millis(200)] })))
  )
)
