/** The gateway process: read the environment, serve the REST API until SIGTERM. */
import { Logging, ServiceMain, Tracing } from "@workstream/platform"
import { Effect, Layer } from "effect"
import * as GatewayConfig from "./GatewayConfig.ts"
import * as GatewayServer from "./GatewayServer.ts"

const program = Effect.gen(function* () {
  const settings = yield* GatewayConfig.load
  return yield* Layer.launch(GatewayServer.layer(settings).pipe(Layer.provide(Tracing.layer("gateway")))).pipe(
    Effect.provide(Logging.layer({ service: "gateway", level: settings.logLevel }))
  )
})

ServiceMain.run(program.pipe(Effect.provide(Logging.layer({ service: "gateway", level: "Info" }))))
