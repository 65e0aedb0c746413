/** Asks the tasks service's grpc.health.v1.Health whether TasksService is SERVING. */
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { Duration, Effect, Schema } from "effect"
import { protoPath } from "grpc-health-check"

interface HealthClient extends grpc.Client {
  check(
    request: { service: string },
    options: Partial<grpc.CallOptions>,
    callback: (error: grpc.ServiceError | null, response: { status: string }) => void
  ): grpc.ClientUnaryCall
}
type HealthClientConstructor = new (target: string, credentials: grpc.ChannelCredentials) => HealthClient

export class TasksNotServing extends Schema.TaggedError<TasksNotServing>()("TasksNotServing", {
  status: Schema.String
}) {}

const definition = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { keepCase: true, enums: String }))
// grpc.health.v1 is a fixed standard; proto-loader's output is untyped, so it is named here once.
const Health = (definition.grpc as grpc.GrpcObject & { health: { v1: { Health: HealthClientConstructor } } }).health.v1
  .Health

/** A health client sharing nothing with the calls' channel, so a probe never waits behind traffic. */
export const make = (target: string, timeout: Duration.Duration) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Health(target, grpc.credentials.createInsecure())),
      (client) => Effect.sync(() => client.close())
    ),
    (client) =>
      Effect.callback<string, TasksNotServing>((resume) => {
        const call = client.check(
          { service: "workstream.tasks.v1.TasksService" },
          { deadline: Date.now() + Duration.toMillis(timeout) },
          (error, response) =>
            resume(
              error !== null
                ? Effect.fail(new TasksNotServing({ status: grpc.status[error.code] ?? "UNKNOWN" }))
                : response.status === "SERVING"
                  ? Effect.succeed(response.status)
                  : Effect.fail(new TasksNotServing({ status: response.status }))
            )
        )
        return Effect.sync(() => call.cancel())
      })
  )
