/** The debug API's handlers: typed, validated queries straight to the record store. */
import { Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { NotificationRecords } from "../store/NotificationRecords.ts"
import { Api, RecordNotFoundProblem, StoreUnavailableProblem } from "./Api.ts"

const DEFAULT_LIMIT = 20

export const NotificationsHandlers = HttpApiBuilder.group(
  Api,
  "notifications",
  Effect.fn(function* (handlers) {
    const records = yield* NotificationRecords
    const unavailable = () => new StoreUnavailableProblem({})
    return handlers
      .handle("list", ({ query }) =>
        Effect.gen(function* () {
          const limit = query.limit ?? DEFAULT_LIMIT
          // One extra record tells whether another page exists.
          const found = yield* records.list({
            task_id: query.task_id,
            event_type: query.event_type,
            after: query.cursor,
            limit: limit + 1
          })
          const items = found.slice(0, limit)
          return { items, next_cursor: found.length > limit ? (items.at(-1)?.event_id ?? null) : null }
        }).pipe(Effect.mapError(unavailable))
      )
      .handle("get", ({ params }) =>
        records
          .get(params.event_id)
          .pipe(
            Effect.mapError(unavailable),
            Effect.flatMap(
              Option.match({ onNone: () => Effect.fail(new RecordNotFoundProblem({})), onSome: Effect.succeed })
            )
          )
      )
  })
)

export const DeadLettersHandlers = HttpApiBuilder.group(
  Api,
  "deadLetters",
  Effect.fn(function* (handlers) {
    const records = yield* NotificationRecords
    return handlers.handle("list", ({ query }) =>
      Effect.gen(function* () {
        const limit = query.limit ?? DEFAULT_LIMIT
        const found = yield* records.listDeadLetters({ after: query.cursor, limit: limit + 1 })
        const items = found.slice(0, limit)
        return { items, next_cursor: found.length > limit ? (items.at(-1)?.id ?? null) : null }
      }).pipe(Effect.mapError(() => new StoreUnavailableProblem({})))
    )
  })
)
