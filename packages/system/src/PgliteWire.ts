/**
 * Serves one PGlite over the Postgres wire protocol to many client connections.
 *
 * PGlite is a single backend session, so connections take turns on it. What a turn is matters:
 * pglite-socket 0.2.17 takes turns per protocol message, so two connections' extended-protocol
 * batches (Parse, Bind, Execute, Sync) interleave and clobber each other's unnamed statement
 * (electric-sql/pglite#1046). Here a turn is a whole batch, up to its Sync (or one simple Query,
 * a Flush, the end of a COPY), and the backend itself says when the next connection may go: it
 * stays with a connection until it answers ReadyForQuery with status idle, so an open
 * transaction, a batch continued after a Flush, or a COPY in progress keep it. A connection that
 * goes away while it holds the backend is synced and rolled back.
 *
 * PGlite is also fragile in ways a server must not be: a malformed startup packet or a
 * `COPY ... FROM STDIN` ends its backend for good (a FATAL, then the process). So clients never
 * reach it with either: every connection is greeted with the answer PGlite gave one well-formed
 * startup when the server began (the session is shared anyway, so per-connection startup
 * parameters could not apply), and COPY FROM STDIN is refused with an error.
 */
import { createServer, type Server, type Socket } from "node:net"
import type { PGlite } from "@electric-sql/pglite"

const SSL_REQUEST = 80877103
const GSS_REQUEST = 80877104
const CANCEL_REQUEST = 80877102

/** Messages after which the client waits for answers: each ends a turn. */
const ENDS_TURN = new Set([
  0x53, // 'S' Sync
  0x51, // 'Q' simple Query
  0x48, // 'H' Flush
  0x63, // 'c' CopyDone
  0x66 // 'f' CopyFail
])
const TERMINATE = 0x58 // 'X'

/** A sane upper bound on one message (PGlite runs in this process: refuse to buffer more). */
const MAX_MESSAGE = 256 * 1024 * 1024

const SYNC_MESSAGE = new Uint8Array([0x53, 0, 0, 0, 4])
const READY_FOR_QUERY = 0x5a // 'Z'
const IDLE = 0x49 // 'I'

interface Turn {
  readonly connection: Connection
  readonly messages: ReadonlyArray<Uint8Array>
}

/** A startup packet for protocol 3.0 with these parameters. */
const startupPacket = (parameters: Record<string, string>): Uint8Array => {
  const body = Buffer.from(`${Object.entries(parameters).flat().join("\0")}\0\0`, "utf8")
  const packet = Buffer.alloc(8 + body.length)
  packet.writeInt32BE(packet.length, 0)
  packet.writeInt32BE(196608, 4)
  body.copy(packet, 8)
  return packet
}

/** A backend message: type, length, body. */
const backendMessage = (type: string, body: Buffer): Buffer => {
  const message = Buffer.alloc(5 + body.length)
  message.write(type, 0, "latin1")
  message.writeInt32BE(4 + body.length, 1)
  body.copy(message, 5)
  return message
}

const COPY_FROM_STDIN = /^\s*copy\b[\s\S]*\bfrom\s+stdin\b/i

/** The SQL text of a simple Query or a Parse message, if it is one. */
const sqlOf = (message: Uint8Array): string | undefined => {
  const bytes = Buffer.from(message)
  if (message[0] === 0x51) return bytes.toString("utf8", 5, bytes.length - 1)
  if (message[0] === 0x50) {
    const nameEnd = bytes.indexOf(0, 5)
    return nameEnd === -1 ? undefined : bytes.toString("utf8", nameEnd + 1, bytes.indexOf(0, nameEnd + 1))
  }
  return undefined
}

/** The error a refused COPY FROM STDIN gets, then ReadyForQuery with the session's state. */
const copyRefused = (inTransaction: boolean): Buffer =>
  Buffer.concat([
    backendMessage(
      "E",
      Buffer.from(
        "SERROR\0VERROR\0C0A000\0MCOPY FROM STDIN is not supported by the embedded Postgres (PGlite)\0\0",
        "utf8"
      )
    ),
    backendMessage("Z", Buffer.from(inTransaction ? "T" : "I", "latin1"))
  ])

/** Whether an answer ends with ReadyForQuery reporting an idle session (no transaction, no COPY, no open batch). */
const endsIdle = (tail: Uint8Array): boolean =>
  tail.length === 6 &&
  tail[0] === READY_FOR_QUERY &&
  tail[1] === 0 &&
  tail[2] === 0 &&
  tail[3] === 0 &&
  tail[4] === 5 &&
  tail[5] === IDLE

/** The one backend session and whose turn it is. */
class Backend {
  private readonly waiting: Array<Turn> = []
  private running = false
  /** The connection the backend is not idle for (a transaction, a batch or a COPY of its own): only it may run. */
  private owner: Connection | null = null
  private readonly db: PGlite
  /** What PGlite answered one well-formed startup: every client's greeting. */
  private readonly greeting: Uint8Array

  constructor(db: PGlite, greeting: Uint8Array) {
    this.db = db
    this.greeting = greeting
  }

  /** Runs a startup through PGlite once and keeps its answer (authentication, parameters, ready). */
  static async start(db: PGlite): Promise<Backend> {
    const chunks: Array<Uint8Array> = []
    await db.execProtocolRawStream(startupPacket({ user: "postgres", database: "postgres" }), {
      onRawData: (data) => void chunks.push(new Uint8Array(data))
    })
    return new Backend(db, Buffer.concat(chunks))
  }

  greet(connection: Connection): void {
    connection.write(this.greeting)
  }

  submit(turn: Turn): void {
    this.waiting.push(turn)
    void this.pump()
  }

  /** Drops what a closed connection left; if it held the backend, cleans up after it. */
  release(connection: Connection): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (this.waiting[i]?.connection === connection) this.waiting.splice(i, 1)
    }
    void this.pump()
  }

  private async pump(): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      while (true) {
        if (this.owner?.closed === true) await this.abandon()
        const index = this.waiting.findIndex((turn) => this.owner === null || turn.connection === this.owner)
        const [turn] = index === -1 ? [] : this.waiting.splice(index, 1)
        if (turn === undefined) return
        this.owner = (await this.run(turn)) ? null : turn.connection
      }
    } finally {
      this.running = false
    }
  }

  /** Runs one turn; whether the backend is idle afterwards. */
  private async run(turn: Turn): Promise<boolean> {
    if (turn.messages.some((message) => COPY_FROM_STDIN.test(sqlOf(message) ?? ""))) {
      turn.connection.write(copyRefused(this.db.isInTransaction()))
      return !this.db.isInTransaction()
    }
    const tail = new Uint8Array(6)
    try {
      for (const message of turn.messages) {
        await this.db.execProtocolRawStream(message, {
          onRawData: (data) => {
            turn.connection.write(data)
            // The last six bytes answered: where a final ReadyForQuery would be.
            const keep = Math.min(6, data.length)
            tail.copyWithin(0, keep)
            tail.set(data.subarray(data.length - keep), 6 - keep)
          }
        })
      }
      // Zeros until written: they never read as ReadyForQuery.
      return endsIdle(tail)
    } catch (error) {
      turn.connection.fail(error)
      return false
    }
  }

  /** The holder went away mid-batch or mid-transaction: end its batch, undo its transaction. */
  private async abandon(): Promise<void> {
    try {
      await this.db.execProtocolRawStream(SYNC_MESSAGE, { onRawData: () => undefined })
      if (this.db.isInTransaction()) await this.db.exec("ROLLBACK")
    } catch {
      // Nothing more can be done for that session state; the next turn will say.
    }
    this.owner = null
  }
}

/** One client socket: splits its bytes into protocol messages and hands the backend whole turns. */
class Connection {
  closed = false
  private buffer: Buffer = Buffer.alloc(0)
  private started = false
  private batch: Array<Uint8Array> = []
  private readonly socket: Socket
  private readonly backend: Backend

  constructor(socket: Socket, backend: Backend) {
    this.socket = socket
    this.backend = backend
    // Answers go out in many small writes: without this, Nagle and delayed ACKs add 40 ms per round trip.
    socket.setNoDelay(true)
    socket.on("data", (chunk) => this.receive(chunk))
    socket.on("error", () => socket.destroy())
    socket.on("close", () => {
      this.closed = true
      this.backend.release(this)
    })
  }

  write(data: Uint8Array): void {
    if (this.socket.writable) this.socket.write(data)
  }

  fail(error: unknown): void {
    this.socket.destroy(error instanceof Error ? error : new Error(String(error)))
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk])
    while (!this.closed && (this.started ? this.nextMessage() : this.nextStartupMessage())) {
      // One message taken; look for the next.
    }
  }

  /** A length outside what the protocol allows: a confused or hostile client, dropped. */
  private refuse(): false {
    this.socket.destroy()
    return false
  }

  /** Before startup, messages have no type byte: SSL and GSS requests are declined, startup goes to the backend. */
  private nextStartupMessage(): boolean {
    if (this.buffer.length < 8) return false
    const length = this.buffer.readInt32BE(0)
    if (length < 8 || length > MAX_MESSAGE) return this.refuse()
    if (this.buffer.length < length) return false
    const message = this.take(length)
    const code = Buffer.from(message).readInt32BE(4)
    if (code === SSL_REQUEST || code === GSS_REQUEST) this.write(Buffer.from("N"))
    else if (code === CANCEL_REQUEST) this.socket.end()
    else {
      this.started = true
      this.backend.greet(this)
    }
    return true
  }

  private nextMessage(): boolean {
    if (this.buffer.length < 5) return false
    const length = 1 + this.buffer.readInt32BE(1)
    if (length < 5 || length > MAX_MESSAGE) return this.refuse()
    if (this.buffer.length < length) return false
    const message = this.take(length)
    const type = message[0] ?? 0
    if (type === TERMINATE) {
      this.socket.end()
      return false
    }
    this.batch.push(message)
    if (ENDS_TURN.has(type)) {
      this.backend.submit({ connection: this, messages: this.batch })
      this.batch = []
    }
    return true
  }

  private take(length: number): Uint8Array {
    const message = new Uint8Array(this.buffer.subarray(0, length))
    this.buffer = this.buffer.subarray(length)
    return message
  }
}

export interface Listening {
  /** Stops listening and drops the connections still open. */
  readonly close: () => Promise<void>
}

/** Listens on `host:port` until `close`; every connection shares the one PGlite session. */
export const listen = (db: PGlite, options: { readonly host: string; readonly port: number }): Promise<Listening> =>
  Backend.start(db).then(
    (backend) =>
      new Promise((resolve, reject) => {
        const sockets = new Set<Socket>()
        const server: Server = createServer((socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          new Connection(socket, backend)
        })
        server.once("error", reject)
        server.listen(options.port, options.host, () =>
          resolve({
            close: () =>
              new Promise((done) => {
                server.close(() => done())
                for (const socket of sockets) socket.destroy()
              })
          })
        )
      })
  )
