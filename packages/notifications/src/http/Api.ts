/** The read-only debug API: what the consumer recorded, declared once (OpenAPI at /openapi.json). */
import { EventType, TaskId } from "@workstream/domain"
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiError, HttpApiGroup, HttpApiMiddleware } from "effect/http-api"
import { DeadLetter, NotificationRecord } from "../store/NotificationRecords.ts"

export class RecordNotFoundProblem extends HttpApiError.Problem<RecordNotFoundProblem>()("RecordNotFoundProblem", {
  type: "urn:workstream:problem:notification-not-found",
  status: 404,
  title: "No notification was recorded for this event id"
}) {}

export class StoreUnavailableProblem extends HttpApiError.Problem<StoreUnavailableProblem>()(
  "StoreUnavailableProblem",
  { type: "urn:workstream:problem:unavailable", status: 503, title: "The notification store is unavailable" }
) {}

const EventId = Schema.String.check(Schema.isUUID())
const Limit = Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 100 }))

export const RecordPage = Schema.Struct({
  items: Schema.Array(NotificationRecord),
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: Schema.NullOr(Schema.String)
}).annotate({ identifier: "NotificationPage" })

export const DeadLetterPage = Schema.Struct({
  items: Schema.Array(DeadLetter),
  next_cursor: Schema.NullOr(Schema.String)
}).annotate({ identifier: "DeadLetterPage" })

export class DeadLettersGroup extends HttpApiGroup.make("deadLetters")
  .add(
    HttpApiEndpoint.get("list", "/", {
      query: { limit: Schema.optional(Limit), cursor: Schema.optional(EventId) },
      success: DeadLetterPage,
      error: StoreUnavailableProblem
    })
  )
  .prefix("/api/v1/dead-letters") {}

export class NotificationsGroup extends HttpApiGroup.make("notifications")
  .add(
    HttpApiEndpoint.get("list", "/", {
      query: {
        task_id: Schema.optional(TaskId),
        event_type: Schema.optional(EventType),
        limit: Schema.optional(Limit),
        cursor: Schema.optional(EventId)
      },
      success: RecordPage,
      error: StoreUnavailableProblem
    }),
    HttpApiEndpoint.get("get", "/:event_id", {
      params: { event_id: EventId },
      success: NotificationRecord,
      error: [RecordNotFoundProblem, StoreUnavailableProblem]
    })
  )
  .prefix("/api/v1/notifications") {}

export class Api extends HttpApi.make("workstream-notifications")
  .add(NotificationsGroup)
  .add(DeadLettersGroup)
  .middleware(HttpApiMiddleware.ProblemDetails)
  .annotate(HttpApi.ParseOptions, { errors: "all" }) {}
