/**
 * Leadership of the outbox relay: a session-level Postgres advisory lock held on one reserved
 * connection for as long as a scope is open. When the holder's process dies, Postgres ends its
 * session and the lock with it, so another replica's next attempt takes over.
 */
import { Context, Effect, Exit, Layer, Option, Schema, Scope } from "effect"
import { SqlClient, type SqlConnection, type SqlError } from "effect/sql"

/** An arbitrary constant shared by every tasks replica ("workstream outbox relay"); the key of `pg_locks.objid`. */
export const RELAY_LOCK_KEY = 7_734_001

export interface Lease {
  /** Fails once the lock's connection is gone, and with it the lock: the holder must stop publishing. */
  readonly verify: Effect.Effect<void, SqlError.SqlError>
}

const decodeFlag = Schema.decodeUnknownEffect(Schema.Tuple([Schema.Tuple([Schema.Boolean])]))
const flag = (connection: SqlConnection.Connection, statement: string) =>
  Effect.flatMap(connection.executeValues(statement, []), (rows) =>
    Effect.map(Effect.orDie(decodeFlag(rows)), ([[value]]) => value)
  )

export class RelayLock extends Context.Service<
  RelayLock,
  {
    /** A lease if this scope now holds the lock (until the scope closes); none if another session does. */
    readonly acquire: Effect.Effect<Option.Option<Lease>, SqlError.SqlError, Scope.Scope>
    /** `acquire` for callers that only need to know whether they lead. */
    readonly tryAcquire: Effect.Effect<boolean, SqlError.SqlError, Scope.Scope>
  }
>()("@workstream/tasks/RelayLock") {
  static readonly layer = Layer.effect(
    RelayLock,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const unlock = (connection: SqlConnection.Connection) =>
        flag(connection, `SELECT pg_advisory_unlock(${RELAY_LOCK_KEY})`).pipe(
          Effect.flatMap((released) =>
            released ? Effect.void : Effect.logWarning("relay lock: unlock found no lock held by this session")
          ),
          // A dead connection took the lock with it; nothing is left to release.
          Effect.catchCause((cause) => Effect.logDebug("relay lock: unlock failed", cause))
        )

      const acquire = Effect.gen(function* () {
        // Advisory locks belong to a session: the lock is taken, checked and released on one reserved
        // connection, in a scope of its own so a refused attempt returns that connection at once.
        const lease = yield* Scope.fork(yield* Effect.scope, "sequential")
        const held = yield* Effect.gen(function* () {
          const connection = yield* sql.reserve
          // acquireRelease registers the unlock in the same uninterruptible step that took the lock.
          const locked = yield* Effect.acquireRelease(
            flag(connection, `SELECT pg_try_advisory_lock(${RELAY_LOCK_KEY})`),
            (locked) => (locked ? unlock(connection) : Effect.void)
          )
          return locked
            ? Option.some<Lease>({ verify: Effect.asVoid(connection.executeValues("SELECT 1", [])) })
            : Option.none()
        }).pipe(
          Scope.provide(lease),
          Effect.onError((cause) => Scope.close(lease, Exit.failCause(cause)))
        )
        if (Option.isNone(held)) yield* Scope.close(lease, Exit.void)
        return held
      }).pipe(Effect.withSpan("RelayLock.acquire"))

      const tryAcquire = Effect.map(acquire, Option.isSome)

      return RelayLock.of({ acquire, tryAcquire })
    })
  )
}
