/** The tasks service process: read the environment, run the service until SIGTERM. */
import { Logging, ServiceMain, Tracing } from "@workstream/platform"
import { Effect, Layer } from "effect"
import { TasksConfig } from "./TasksConfig.ts"
import * as TasksServer from "./TasksServer.ts"

const program = Effect.gen(function* () {
  const settings = yield* TasksConfig.settings
  return yield* Layer.launch(TasksServer.layer(settings).pipe(Layer.provide(Tracing.layer("tasks")))).pipe(
    Effect.provide(Logging.layer({ service: "tasks", level: settings.logLevel }))
  )
})

ServiceMain.run(program.pipe(Effect.provide(Logging.layer({ service: "tasks", level: "Info" }))))
