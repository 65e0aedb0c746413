/** A grpc-js server standing in for the tasks service in a test. */
import * as grpc from "@grpc/grpc-js"
import { Effect } from "effect"

/** Serves `implementation` of `service` on a free loopback port for the scope; its port. */
export const stubServer = (service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation) =>
  Effect.gen(function* () {
    const server = yield* Effect.acquireRelease(
      Effect.sync(() => new grpc.Server()),
      (server) => Effect.sync(() => server.forceShutdown())
    )
    server.addService(service, implementation)
    return yield* Effect.callback<number>((resume) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) =>
        resume(error ? Effect.die(error) : Effect.succeed(port))
      )
    )
  })
