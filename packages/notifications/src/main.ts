/** The notifications service process: read the environment, consume and serve until SIGTERM. */
import { Logging, ServiceMain, Tracing } from "@workstream/platform"
import { Effect, Layer } from "effect"
import * as NotificationsConfig from "./NotificationsConfig.ts"
import * as NotificationsServer from "./NotificationsServer.ts"

const program = Effect.gen(function* () {
  const settings = yield* NotificationsConfig.load
  return yield* Layer.launch(
    NotificationsServer.layer(settings).pipe(Layer.provide(Tracing.layer("notifications")))
  ).pipe(Effect.provide(Logging.layer({ service: "notifications", level: settings.logLevel })))
})

ServiceMain.run(program.pipe(Effect.provide(Logging.layer({ service: "notifications", level: "Info" }))))
