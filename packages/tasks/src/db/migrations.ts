/**
 * The tasks database schema. Migrations run at start (PgMigrator); each is applied once, in
 * order, and never edited after it has shipped: a change is a new migration.
 */

import * as NodeServices from "@effect/platform-node/NodeServices"
import { PgMigrator } from "@effect/sql-pg"
import { Effect, Layer } from "effect"
import { Migrator, SqlClient } from "effect/sql"

const initial = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE tasks (
      id uuid PRIMARY KEY,
      title text NOT NULL,
      description text,
      status text NOT NULL CHECK (status IN ('PENDING', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED')),
      priority text NOT NULL CHECK (priority IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')),
      assignee text,
      due_at timestamptz,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      completed_at timestamptz,
      version integer NOT NULL CHECK (version >= 1),
      CHECK ((status = 'COMPLETED') = (completed_at IS NOT NULL))
    )`
  // ListTasks with a status filter walks (status, id); without one, the primary key.
  yield* sql`CREATE INDEX tasks_status_id ON tasks (status, id)`
  yield* sql`
    CREATE TABLE outbox (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      event_id uuid NOT NULL UNIQUE,
      event_type text NOT NULL,
      task_id uuid NOT NULL,
      body text NOT NULL,
      traceparent text,
      tracestate text,
      created_at timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz
    )`
  // The relay's query: unpublished rows in seq order. Partial, so it stays small.
  yield* sql`CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL`
  yield* sql`CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL`
  yield* sql`
    CREATE TABLE idempotency_keys (
      key text PRIMARY KEY,
      request_hash text NOT NULL,
      task_id uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL
    )`
  yield* sql`CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at)`
})

/**
 * A row the broker can never take (its message cannot even be encoded) is parked: set aside with
 * the reason, so the events behind it go on. An operator releases it by clearing `parked_at`.
 */
const parking = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE outbox ADD COLUMN parked_at timestamptz, ADD COLUMN parked_reason text`
  yield* sql`DROP INDEX outbox_unpublished`
  yield* sql`CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL AND parked_at IS NULL`
})

/**
 * The backlog figures (`OutboxStore.stats`, every few seconds on every replica) read only
 * unpublished rows: the pending ones through `outbox_unpublished`, the parked ones through this
 * index. Without it, counting the parked rows scanned the whole outbox, published rows included.
 */
const parkedIndex = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE INDEX outbox_parked ON outbox (seq) WHERE parked_at IS NOT NULL AND published_at IS NULL`
})

export const loader = Migrator.fromRecord({
  "0001_initial": initial,
  "0002_parking": parking,
  "0003_parked_index": parkedIndex
})

/** Brings the database to the latest schema before anything else uses it. */
export const layer = PgMigrator.layer({ loader, table: "workstream_migrations" }).pipe(
  Layer.provide(NodeServices.layer)
)
