/**
 * `pnpm --filter @workstream/tasks migrate`: brings the database at DATABASE_URL to the latest
 * schema and exits, for a deployment step (an init container, a Job) or a tool that needs the
 * schema without the service. The service also migrates at start, so this is never required.
 */
import { PgClient } from "@effect/sql-pg"
import { Logging, ServiceMain } from "@workstream/platform"
import { Config, Effect, Layer } from "effect"
import * as Migrations from "./db/migrations.ts"

const program = Effect.gen(function* () {
  const url = yield* Config.Redacted("DATABASE_URL")
  yield* Layer.build(Migrations.layer.pipe(Layer.provide(PgClient.layer({ url, connectTimeout: "5 seconds" }))))
  yield* Effect.logInfo("the database is at the latest schema")
}).pipe(Effect.scoped, Effect.provide(Logging.layer({ service: "tasks-migrate", level: "Info" })))

ServiceMain.run(program)
