/**
 * The gRPC server as a scoped Layer: TasksService, grpc.health.v1.Health (SERVING only while
 * every readiness check passes) and server reflection. On release it stops taking calls,
 * lets in-flight calls finish within the drain time, then forces the rest closed.
 */
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { ReflectionService } from "@grpc/reflection"
import { Health } from "@workstream/platform"
import * as Proto from "@workstream/proto"
import { Duration, Effect, Layer, Schedule } from "effect"
import { HealthImplementation } from "grpc-health-check"
import { Tasks, type Transition } from "../Tasks.ts"
import { createRequestFrom, listQueryFrom, taskIdFrom, toProtoTask } from "./convert.ts"
import { type ServiceError, toGrpcFailure } from "./errorStatus.ts"
import { makeUnary } from "./unary.ts"

const SERVICE_NAME = "workstream.tasks.v1.TasksService"
const DRAIN_TIME = Duration.seconds(10)

const handlers = Effect.gen(function* () {
  const tasks = yield* Tasks
  const unary = makeUnary(yield* Effect.context<never>())
  const fail = (error: ServiceError) => Effect.fail(toGrpcFailure(error))

  const transition = (name: Transition, rpc: string) =>
    unary<Proto.CompleteTaskRequest, { task: Proto.Task }>(rpc, (request, call) =>
      Effect.fromResult(taskIdFrom(request.id)).pipe(
        Effect.flatMap((id) => tasks.transition(name, id, call.trace)),
        Effect.map((task) => ({ task: toProtoTask(task) })),
        Effect.catch(fail)
      )
    )

  const server: Proto.TasksServiceServer = {
    createTask: unary("CreateTask", (request: Proto.CreateTaskRequest, call) =>
      Effect.fromResult(createRequestFrom(request)).pipe(
        Effect.flatMap(({ fields, idempotencyKey }) => tasks.create({ fields, idempotencyKey, trace: call.trace })),
        Effect.map((task) => ({ task: toProtoTask(task) })),
        Effect.catch(fail)
      )
    ),
    getTask: unary("GetTask", (request: Proto.GetTaskRequest) =>
      Effect.fromResult(taskIdFrom(request.id)).pipe(
        Effect.flatMap(tasks.get),
        Effect.map((task) => ({ task: toProtoTask(task) })),
        Effect.catch(fail)
      )
    ),
    listTasks: unary("ListTasks", (request: Proto.ListTasksRequest) =>
      Effect.fromResult(listQueryFrom(request)).pipe(
        Effect.flatMap(tasks.list),
        Effect.map((page) => ({ tasks: page.tasks.map(toProtoTask), next_page_token: page.nextPageToken })),
        Effect.catch(fail)
      )
    ),
    startTask: transition("start", "StartTask"),
    completeTask: transition("complete", "CompleteTask"),
    cancelTask: transition("cancel", "CancelTask")
  }
  return server
})

/** Mirrors readiness into grpc.health.v1 so Kubernetes' native gRPC probe sees the same thing. */
const healthReporter = (health: HealthImplementation) =>
  Effect.gen(function* () {
    const readiness = yield* Health.Readiness
    const report = yield* readiness.report
    const serving = report.status === "ready" || report.status === "degraded" ? "SERVING" : "NOT_SERVING"
    health.setStatus("", serving)
    health.setStatus(SERVICE_NAME, serving)
  }).pipe(
    // Whatever happens to one round, the next one runs: a stuck status would mislead the probe.
    Effect.catchCause((cause) => Effect.logWarning("gRPC health reporter failed a round", cause)),
    Effect.repeat(Schedule.spaced("2 seconds"))
  )

export const layer = (options: { readonly port: number; readonly host?: string; readonly protoPath: string }) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const server = new grpc.Server()
      server.addService(Proto.TasksServiceService, yield* handlers)
      const health = new HealthImplementation({ "": "NOT_SERVING", [SERVICE_NAME]: "NOT_SERVING" })
      health.addToServer(server)
      new ReflectionService(protoLoader.loadSync(options.protoPath, { keepCase: true })).addToServer(server)
      yield* Effect.forkScoped(healthReporter(health))

      const address = `${options.host ?? "0.0.0.0"}:${options.port}`
      yield* Effect.acquireRelease(
        Effect.callback<number, Error>((resume) => {
          server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) =>
            resume(error ? Effect.fail(error) : Effect.succeed(port))
          )
        }),
        () =>
          Effect.callback<void>((resume) => server.tryShutdown(() => resume(Effect.void))).pipe(
            Effect.timeoutOrElse({ duration: DRAIN_TIME, orElse: () => Effect.sync(() => server.forceShutdown()) })
          )
      ).pipe(Effect.tap((port) => Effect.logInfo(`gRPC listening on ${options.host ?? "0.0.0.0"}:${port}`)))
    })
  )
