/**
 * Leadership of the outbox relay: a session-level Postgres advisory lock held on one reserved
 * connection for as long as a scope is open. When the holder's process dies, Postgres ends its
 * session and the lock with it, so another replica's next attempt takes over.
 */
import { Context, Effect, Layer, Option, type Scope } from "effect"
import { SqlClient, type SqlError } from "effect/sql"

// An arbitrary constant shared by every tasks replica: "workstream outbox relay".
const LOCK_KEY = 7_734_001

export class RelayLock extends Context.Service<
  RelayLock,
  {
    /**
     * A lease if this scope now holds the lock (until the scope closes); none if another replica does.
     * `verify` fails once the lock's connection is gone, and with it the lock.
     */
    readonly acquire: Effect.Effect<
      Option.Option<{ readonly verify: Effect.Effect<void, SqlError.SqlError> }>,
      SqlError.SqlError,
      Scope.Scope
    >
  }
>()("@workstream/tasks/RelayLock") {
  static readonly layer = Layer.effect(
    RelayLock,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const acquire = Effect.gen(function* () {
        // The lock belongs to a session: it must be taken and released on the same connection.
        const connection = yield* sql.reserve
        const [row] = yield* connection.executeValues(`SELECT pg_try_advisory_lock(${LOCK_KEY})`, [])
        if (row?.[0] !== true) return Option.none()
        yield* Effect.addFinalizer(() =>
          Effect.ignore(connection.executeValues(`SELECT pg_advisory_unlock(${LOCK_KEY})`, []))
        )
        return Option.some({ verify: Effect.asVoid(connection.executeValues("SELECT 1", [])) })
      }).pipe(Effect.withSpan("RelayLock.acquire"))
      return RelayLock.of({ acquire })
    })
  )
}
