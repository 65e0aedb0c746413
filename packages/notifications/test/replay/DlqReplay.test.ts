import { createServer, type Socket } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Topology } from "@workstream/platform"
import { Effect } from "effect"
import { replay } from "../../src/replay/DlqReplay.ts"

/** A TCP server that accepts connections and never says a word: a broker that hangs. */
const silentBroker = Effect.acquireRelease(
  Effect.callback<{ port: number; close: () => void }>((resume) => {
    const sockets = new Set<Socket>()
    const server = createServer((socket) => sockets.add(socket))
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(
        Effect.succeed({
          port,
          close: () => {
            for (const socket of sockets) socket.destroy()
            server.close()
          }
        })
      )
    })
  }),
  (broker) => Effect.sync(broker.close)
)

describe("dlq:replay", () => {
  it.live("gives up with a clear error, instead of hanging, when the broker does not answer", () =>
    Effect.gen(function* () {
      const broker = yield* silentBroker
      const error = yield* Effect.flip(
        replay({
          amqpUrl: `amqp://guest:guest@127.0.0.1:${broker.port}`,
          topology: Topology.make(),
          dryRun: true,
          timeout: "300 millis"
        })
      )
      assert.include(error.reason, "did not answer in time")
    })
  )
})
