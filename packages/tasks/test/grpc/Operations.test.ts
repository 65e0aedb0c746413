import { assert, layer } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as protoLoader from "@grpc/proto-loader"
import { Effect, Schedule } from "effect"
import { protoPath as healthProtoPath } from "grpc-health-check"
import { call, http } from "../support/clients.ts"
import { TasksUnderTest } from "../support/harness.ts"

interface HealthClient extends grpc.Client {
  check(
    request: { service: string },
    callback: (error: grpc.ServiceError | null, response: { status: string }) => void
  ): void
}
type HealthClientConstructor = new (target: string, credentials: grpc.ChannelCredentials) => HealthClient

/** grpc.health.v1.Health/Check against the service, as Kubernetes' gRPC probe does. */
const healthCheck = (port: number, service: string) =>
  Effect.callback<string, grpc.ServiceError>((resume) => {
    const definition = grpc.loadPackageDefinition(
      protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String })
    )
    // The shape of grpc.health.v1 is fixed by the standard; proto-loader cannot type it.
    const Health = (definition.grpc as grpc.GrpcObject & { health: { v1: { Health: HealthClientConstructor } } }).health
      .v1.Health
    const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
    client.check({ service }, (error, response) => {
      client.close()
      resume(error ? Effect.fail(error) : Effect.succeed(response.status))
    })
  })

layer(TasksUnderTest.layer, { timeout: "60 seconds", excludeTestServices: true })("tasks service operations", (it) => {
  it.effect("/healthz answers, /readyz names Postgres (with the outbox backlog) and RabbitMQ", () =>
    Effect.gen(function* () {
      const { settings } = yield* Effect.service(TasksUnderTest)
      assert.strictEqual((yield* http(settings.httpPort, "/healthz")).status, 200)
      const ready = yield* http(settings.httpPort, "/readyz")
      assert.strictEqual(ready.status, 200)
      const report = JSON.parse(ready.body)
      assert.strictEqual(report.status, "ready")
      assert.strictEqual(report.dependencies.postgres.status, "up")
      assert.isNumber(report.dependencies.postgres.outbox_pending)
      assert.strictEqual(report.dependencies.rabbitmq.status, "up")
    })
  )

  it.effect(
    "grpc.health.v1 reports SERVING for the server and for TasksService",
    () =>
      Effect.gen(function* () {
        const { settings } = yield* Effect.service(TasksUnderTest)
        // The gRPC health mirrors readiness every 2 s; the first report may still be pending.
        const status = yield* healthCheck(settings.grpcPort, "workstream.tasks.v1.TasksService").pipe(
          Effect.filterOrFail((s) => s === "SERVING"),
          Effect.retry(Schedule.spaced("250 millis").pipe(Schedule.upTo({ duration: "10 seconds" })))
        )
        assert.strictEqual(status, "SERVING")
        assert.strictEqual(yield* healthCheck(settings.grpcPort, ""), "SERVING")
      }),
    { timeout: 15_000 }
  )

  it.effect("/metrics has RPC counts by method and code, and the outbox backlog", () =>
    Effect.gen(function* () {
      const { settings, client } = yield* Effect.service(TasksUnderTest)
      yield* call(client.createTask.bind(client), { title: "Count me", priority: 0, idempotency_key: "" })
      yield* Effect.ignore(call(client.getTask.bind(client), { id: "nope" }))
      const metrics = yield* http(settings.httpPort, "/metrics").pipe(
        Effect.filterOrFail((m) => m.body.includes("outbox_pending_rows")),
        Effect.retry(Schedule.spaced("250 millis").pipe(Schedule.upTo({ duration: "10 seconds" })))
      )
      assert.match(metrics.body, /rpc_server_calls_total\{[^}]*method="CreateTask"[^}]*\} 1/)
      assert.match(metrics.body, /rpc_server_calls_total\{[^}]*code="INVALID_ARGUMENT"[^}]*\} 1/)
      assert.include(metrics.body, "rpc_server_duration_seconds")
      assert.include(metrics.body, "outbox_oldest_pending_age_seconds")
      assert.match(metrics.body, /tasks_create_statement_creates_count(\{[^}]*\})? 1\n/, "one statement of creates")
      assert.match(metrics.body, /tasks_create_statement_creates_sum(\{[^}]*\})? 1\n/, "carrying the one create")
    })
  )
})
