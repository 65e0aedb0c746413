/**
 * Postgres for the embedded mode: PGlite (Postgres compiled to WebAssembly, in this process)
 * served on a loopback socket, so the tasks service's real PgClient, migrations and queries run
 * unchanged. PGlite is one session; PgliteWire lets the service's connections take turns on it.
 * In memory unless a data directory is given.
 */
import { PGlite } from "@electric-sql/pglite"
import { Effect, Schema } from "effect"
import * as PgliteSnapshot from "./PgliteSnapshot.ts"
import * as PgliteWire from "./PgliteWire.ts"

export class EmbeddedPostgresFailed extends Schema.TaggedError<EmbeddedPostgresFailed>()("EmbeddedPostgresFailed", {
  reason: Schema.String
}) {
  override get message(): string {
    return `the embedded Postgres did not start: ${this.reason}`
  }
}

export interface Options {
  readonly port: number
  /** Keeps the data across restarts; in memory when absent. */
  readonly dataDir?: string
}

/** The URL the embedded Postgres answers on at `port` (no secret in it: PGlite trusts every local client). */
export const urlOf = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`

/** Serves PGlite on 127.0.0.1 for as long as the scope lives. */
export const serve = (options: Options) =>
  Effect.gen(function* () {
    const db = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => (options.dataDir === undefined ? PgliteSnapshot.createInMemory() : PGlite.create(options.dataDir)),
        catch: (cause) => new EmbeddedPostgresFailed({ reason: String(cause) })
      }),
      (db) => Effect.promise(() => db.close().catch(() => undefined))
    )
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => PgliteWire.listen(db, { host: "127.0.0.1", port: options.port }),
        catch: (cause) => new EmbeddedPostgresFailed({ reason: `port ${options.port}: ${String(cause)}` })
      }),
      (server) => Effect.promise(server.close)
    )
  })
