import { Duration, Effect, Layer } from "effect"
import { AmqpConnection } from "../../src/AmqpConnection.ts"
import { EventPublisher } from "../../src/EventPublisher.ts"
import { EventSource } from "../../src/EventSource.ts"
import { AMQP_URL, adminChannel, drain, freshTopology, uniqueName } from "../support.ts"
import { contract, QueueReader } from "./contract.ts"

const reader = Layer.succeed(
  QueueReader,
  QueueReader.of({
    takeAll: (queue) =>
      Effect.scoped(Effect.flatMap(adminChannel, (channel) => drain(channel, queue))).pipe(
        Effect.map((messages) =>
          messages.map((m) => ({
            messageId: String(m.properties.messageId),
            body: m.content.toString("utf8"),
            headers: m.properties.headers ?? {}
          }))
        )
      )
  })
)

contract("RabbitMQ", (prefetch) =>
  Layer.unwrap(
    Effect.gen(function* () {
      const topology = yield* freshTopology({ retryDelays: [Duration.millis(200)] })
      return Layer.mergeAll(
        EventPublisher.layerAmqp({ topology }),
        EventSource.layerAmqp({ topology, prefetch }),
        reader
      ).pipe(Layer.provideMerge(AmqpConnection.layer({ url: AMQP_URL, connectionName: uniqueName("bus") })))
    })
  )
)
