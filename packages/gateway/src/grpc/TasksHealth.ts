/** Asks the tasks service's grpc.health.v1.Health whether TasksService is SERVING. */
import * as grpc from "@grpc/grpc-js"
import { Health } from "@workstream/proto"
import { Duration, Effect, Schema } from "effect"

export class TasksNotServing extends Schema.TaggedError<TasksNotServing>()("TasksNotServing", {
  status: Schema.String
}) {}

const { SERVING } = Health.HealthCheckResponse_ServingStatus
const statusName = (status: Health.HealthCheckResponse_ServingStatus): string =>
  Object.entries(Health.HealthCheckResponse_ServingStatus).find(([, value]) => value === status)?.[0] ?? "UNKNOWN"

/** A health client sharing nothing with the calls' channel, so a probe never waits behind traffic. */
export const make = (target: string, timeout: Duration.Duration) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Health.HealthClient(target, grpc.credentials.createInsecure())),
      (client) => Effect.sync(() => client.close())
    ),
    (client) =>
      Effect.callback<void, TasksNotServing>((resume) => {
        const call = client.check(
          { service: "workstream.tasks.v1.TasksService" },
          new grpc.Metadata(),
          { deadline: Date.now() + Duration.toMillis(timeout) },
          (error, response) =>
            resume(
              error !== null
                ? Effect.fail(new TasksNotServing({ status: grpc.status[error.code] ?? "UNKNOWN" }))
                : response.status === SERVING
                  ? Effect.void
                  : Effect.fail(new TasksNotServing({ status: statusName(response.status) }))
            )
        )
        return Effect.sync(() => call.cancel())
      })
  )
