/** The tasks service process: read the environment, run the service until SIGTERM. */
import { NodeRuntime } from "@effect/platform-node"
import { Logging } from "@workstream/platform"
import { Effect, Layer } from "effect"
import { TasksConfig } from "./TasksConfig.ts"
import * as TasksServer from "./TasksServer.ts"

const program = Effect.gen(function* () {
  const settings = yield* TasksConfig.settings
  return yield* Layer.launch(TasksServer.layer(settings)).pipe(
    Effect.provide(Logging.layer({ service: "tasks", level: settings.logLevel }))
  )
})

program.pipe(Effect.provide(Logging.layer({ service: "tasks", level: "Info" })), NodeRuntime.runMain)
