/**
 * Running a service process. A service stopped by SIGTERM or Ctrl-C that drained cleanly has
 * done its job, so it exits 0 (Kubernetes and the embedded launcher read that as a clean stop);
 * anything that failed, including bad configuration at start, exits 1.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit, Layer, type LogLevel, type Runtime } from "effect"
import * as Logging from "./Logging.ts"
import * as ServiceConfig from "./ServiceConfig.ts"
import * as Tracing from "./Tracing.ts"

const teardown: Runtime.Teardown = (exit, onExit) =>
  onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)

export const run = <E, A>(program: Effect.Effect<A, E>): void => NodeRuntime.runMain(program, { teardown })

/**
 * A service's whole process: its settings and the trace export's read (every bad variable named
 * at once, in JSON log lines), then its layer, with traces exported when configured and logs at
 * the settings' level, until SIGTERM.
 */
export const launch = <S extends { readonly logLevel: LogLevel.LogLevel }, ROut, E>(
  service: string,
  options: {
    readonly settings: Effect.Effect<S, ServiceConfig.ConfigInvalid>
    readonly layer: (settings: S) => Layer.Layer<ROut, E>
  }
): void =>
  run(
    Effect.gen(function* () {
      const [settings, endpoint] = yield* ServiceConfig.all([options.settings, Tracing.endpoint])
      return yield* Layer.launch(options.layer(settings).pipe(Layer.provide(Tracing.layer(service, endpoint)))).pipe(
        Effect.provide(Logging.layer({ service, level: settings.logLevel }))
      )
    }).pipe(Effect.provide(Logging.layer({ service, level: "Info" })))
  )
