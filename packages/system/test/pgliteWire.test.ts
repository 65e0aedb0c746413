import { connect } from "node:net"
import { PGlite } from "@electric-sql/pglite"
import { freePort } from "@workstream/tasks/testing"
import { Effect } from "effect"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as PgliteWire from "../src/PgliteWire.ts"

let db: PGlite
let server: PgliteWire.Listening
let port: number

const client = async () => {
  const c = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" })
  await c.connect()
  return c
}

beforeAll(async () => {
  db = await PGlite.create()
  await db.exec("CREATE TABLE t (n int)")
  port = await Effect.runPromise(freePort)
  server = await PgliteWire.listen(db, { host: "127.0.0.1", port })
}, 30_000)

afterAll(async () => {
  await server.close()
  await db.close()
})

describe("PGlite over the wire, shared by many connections", () => {
  it("keeps each connection's extended-protocol queries apart under concurrency (pglite#1046)", async () => {
    const clients = await Promise.all([1, 2, 3, 4].map(() => client()))
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, n) =>
        clients[n % clients.length]
          ?.query<{ n: number; s: string }>("SELECT $1::int AS n, $2::text AS s", [n, `v${n}`])
          .then((r) => r.rows[0])
      )
    )
    expect(answers).toEqual(Array.from({ length: 200 }, (_, n) => ({ n, s: `v${n}` })))
    await Promise.all(clients.map((c) => c.end()))
  })

  it("gives the backend to one transaction until it ends: others wait, then see its commit", async () => {
    const [a, b] = [await client(), await client()]
    await a.query("BEGIN")
    await a.query("INSERT INTO t VALUES (1)")
    const read = b.query<{ count: number }>("SELECT count(*)::int AS count FROM t WHERE n = 1")
    await new Promise((resolve) => setTimeout(resolve, 100))
    await a.query("COMMIT")
    expect((await read).rows[0]?.count).toBe(1)
    await Promise.all([a.end(), b.end()])
  })

  it("rolls back a connection that goes away mid-transaction, and the others go on", async () => {
    const a = await client()
    a.on("error", () => undefined)
    await a.query("BEGIN")
    await a.query("INSERT INTO t VALUES (2)")
    ;(a as unknown as { connection: { stream: { destroy: () => void } } }).connection.stream.destroy()
    const b = await client()
    expect((await b.query<{ count: number }>("SELECT count(*)::int AS count FROM t WHERE n = 2")).rows[0]?.count).toBe(
      0
    )
    await b.end()
  })

  it("refuses COPY FROM STDIN (it would end PGlite's backend) with an error, and goes on", async () => {
    const a = await client()
    await expect(a.query("COPY t FROM STDIN")).rejects.toThrow(/not supported by the embedded Postgres/)
    expect((await a.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }])
    await a.end()
    const b = await client()
    expect((await b.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }])
    await b.end()
  })

  it("drops a client whose message lengths are impossible, and keeps serving", async () => {
    for (const bytes of [
      Buffer.from([0, 0, 0, 2, 0, 0, 0, 0]),
      Buffer.from([0, 0, 0, 8, 0, 3, 0, 0, 0x51, 0xff, 0xff, 0xff, 0xff])
    ]) {
      await new Promise<void>((resolve) => {
        const socket = connect(port, "127.0.0.1", () => socket.write(bytes))
        socket.on("close", () => resolve())
        socket.on("error", () => undefined)
        setTimeout(() => socket.destroy(), 2_000)
      })
    }
    const b = await client()
    expect((await b.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }])
    await b.end()
  })
})
