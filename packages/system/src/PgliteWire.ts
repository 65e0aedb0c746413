/**
 * Serves one PGlite over the Postgres wire protocol to many client connections.
 *
 * PGlite is a single backend session, so connections take turns on it. What a turn is matters:
 * pglite-socket 0.2.17 takes turns per protocol message, so two connections' extended-protocol
 * batches (Parse, Bind, Execute, Sync) interleave and clobber each other's unnamed statement
 * (electric-sql/pglite#1046). Here a turn is a whole batch, up to its Sync (or one simple Query),
 * and while a transaction is open the backend belongs to the connection that opened it, which is
 * rolled back if that connection goes away.
 */
import { createServer, type Server, type Socket } from "node:net"
import type { PGlite } from "@electric-sql/pglite"

const SSL_REQUEST = 80877103
const GSS_REQUEST = 80877104
const CANCEL_REQUEST = 80877102

/** Message types that end a batch: the backend answers ReadyForQuery after them. */
const SYNC = 0x53 // 'S'
const QUERY = 0x51 // 'Q'
const TERMINATE = 0x58 // 'X'
/** Asks for the answers so far without ending the batch: the connection keeps the backend until its Sync. */
const FLUSH = 0x48 // 'H'

interface Turn {
  readonly connection: Connection
  readonly messages: ReadonlyArray<Uint8Array>
  /** False after a Flush: the batch goes on, so the backend stays this connection's. */
  readonly complete: boolean
}

/** The one backend session and whose turn it is. */
class Backend {
  private readonly waiting: Array<Turn> = []
  private running = false
  /** The connection whose transaction or batch is open, if any: only it may run. */
  private owner: Connection | null = null

  private readonly db: PGlite

  constructor(db: PGlite) {
    this.db = db
  }

  submit(turn: Turn): void {
    this.waiting.push(turn)
    void this.pump()
  }

  /** Drops what a closed connection left, and rolls back its open transaction. */
  async release(connection: Connection): Promise<void> {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (this.waiting[i]?.connection === connection) this.waiting.splice(i, 1)
    }
    if (this.owner === connection) {
      await this.db.runExclusive(() => this.db.exec("ROLLBACK")).catch(() => undefined)
      this.owner = null
      void this.pump()
    }
  }

  private async pump(): Promise<void> {
    if (this.running) return
    const index = this.waiting.findIndex((turn) => this.owner === null || turn.connection === this.owner)
    if (index === -1) return
    const [turn] = this.waiting.splice(index, 1)
    if (turn === undefined) return
    this.running = true
    try {
      await this.db.runExclusive(async () => {
        for (const message of turn.messages) {
          await this.db.execProtocolRawStream(message, { onRawData: (data) => turn.connection.write(data) })
        }
      })
    } catch (error) {
      turn.connection.fail(error)
    } finally {
      this.owner = this.db.isInTransaction() || !turn.complete ? turn.connection : null
      this.running = false
      void this.pump()
    }
  }
}

/** One client socket: splits its bytes into protocol messages and hands the backend whole batches. */
class Connection {
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
    socket.on("close", () => void this.backend.release(this))
  }

  write(data: Uint8Array): void {
    if (this.socket.writable) this.socket.write(data)
  }

  fail(error: unknown): void {
    this.socket.destroy(error instanceof Error ? error : new Error(String(error)))
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk])
    while (true) {
      const message = this.started ? this.nextMessage() : this.nextStartupMessage()
      if (message === undefined) return
    }
  }

  /** Before startup, messages have no type byte: SSL and GSS requests are declined, startup goes to the backend. */
  private nextStartupMessage(): Uint8Array | undefined {
    if (this.buffer.length < 8) return undefined
    const length = this.buffer.readInt32BE(0)
    if (this.buffer.length < length) return undefined
    const message = this.take(length)
    const code = Buffer.from(message).readInt32BE(4)
    if (code === SSL_REQUEST || code === GSS_REQUEST) this.write(Buffer.from("N"))
    else if (code === CANCEL_REQUEST) this.socket.end()
    else {
      this.started = true
      this.backend.submit({ connection: this, messages: [message], complete: true })
    }
    return message
  }

  private nextMessage(): Uint8Array | undefined {
    if (this.buffer.length < 5) return undefined
    const length = 1 + this.buffer.readInt32BE(1)
    if (this.buffer.length < length) return undefined
    const message = this.take(length)
    const type = message[0]
    if (type === TERMINATE) {
      this.socket.end()
      return message
    }
    this.batch.push(message)
    if (type === SYNC || type === QUERY || type === FLUSH) {
      this.backend.submit({ connection: this, messages: this.batch, complete: type !== FLUSH })
      this.batch = []
    }
    return message
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
  new Promise((resolve, reject) => {
    const backend = new Backend(db)
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
