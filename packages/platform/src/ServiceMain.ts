/**
 * Running a service process. A service stopped by SIGTERM or Ctrl-C that drained cleanly has
 * done its job, so it exits 0 (Kubernetes and the embedded launcher read that as a clean stop);
 * anything that failed, including bad configuration at start, exits 1.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, type Effect, Exit, type Runtime } from "effect"

const teardown: Runtime.Teardown = (exit, onExit) =>
  onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)

export const run = <E, A>(program: Effect.Effect<A, E>): void => NodeRuntime.runMain(program, { teardown })
