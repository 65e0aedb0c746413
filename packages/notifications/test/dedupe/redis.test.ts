import { randomBytes } from "node:crypto"
import { createServer, type Socket } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Redacted } from "effect"
import { DedupeStore } from "../../src/dedupe/DedupeStore.ts"
import { dedupeInRedis } from "../../src/index.ts"
import { contractSuite, TTL } from "./contract.ts"

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

// Keys of their own, so runs never see each other's; they expire by themselves within a second.
contractSuite(
  "Redis dedupe",
  dedupeInRedis({ url: Redacted.make(REDIS_URL), ttl: TTL, prefix: `test:${randomBytes(5).toString("hex")}:` }),
  (duration) => Effect.sleep(duration),
  { live: true }
)

describe("Redis dedupe without a server", () => {
  it.live("fails with DedupeUnavailable within its timeout instead of hanging", () =>
    Effect.gen(function* () {
      const store = dedupeInRedis({
        url: Redacted.make("redis://127.0.0.1:9"),
        ttl: TTL,
        timeout: Duration.millis(500)
      })
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(store)))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "DedupeUnavailable")
    })
  )
})

/** The names of the RESP commands in a chunk (arrays of bulk strings, as clients send them). */
const commandNames = (chunk: string): Array<string> =>
  [...chunk.matchAll(/\*\d+\r\n\$\d+\r\n([^\r]*)\r\n/g)].map((match) => (match[1] ?? "").toLowerCase())

/** A Redis that answers the client's connection handshake, then never answers EXISTS or SET. */
const stallingRedis = Effect.acquireRelease(
  Effect.callback<{ readonly port: number; readonly close: () => void }>((resume) => {
    const sockets = new Set<Socket>()
    const server = createServer((socket) => {
      sockets.add(socket)
      socket.on("data", (chunk) => {
        for (const name of commandNames(chunk.toString("latin1"))) {
          if (name === "info") socket.write("$11\r\nloading:0\r\n\r\n")
          else if (name !== "exists" && name !== "set") socket.write("+OK\r\n")
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resume(
        Effect.succeed({
          port: typeof address === "object" && address !== null ? address.port : 0,
          close: () => {
            for (const socket of sockets) socket.destroy()
            server.close()
          }
        })
      )
    })
  }),
  (server) => Effect.sync(server.close)
)

describe("Redis dedupe against a server that stops answering", () => {
  it.live("fails each command with DedupeUnavailable within its timeout instead of hanging", () =>
    Effect.gen(function* () {
      const { port } = yield* stallingRedis
      const store = yield* Layer.build(
        dedupeInRedis({ url: Redacted.make(`redis://127.0.0.1:${port}`), ttl: TTL, timeout: Duration.millis(300) })
      ).pipe(Effect.map((context) => Context.get(context, DedupeStore)))
      for (const command of [store.seen("e-1"), store.markProcessed("e-1")]) {
        const exit = yield* Effect.exit(command).pipe(Effect.timeout("5 seconds"))
        assert.isTrue(Exit.isFailure(exit))
        assert.include(String(exit), "DedupeUnavailable")
      }
    }).pipe(Effect.scoped)
  )
})
