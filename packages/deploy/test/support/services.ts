/**
 * The three services as deployments see them, and each one's own configuration loader: the
 * deployment tests feed it the environment a manifest provides, so "every required variable is
 * set, and set to something valid" is decided by the code that reads it, not by a copied list.
 */
import { ConfigProvider, Effect } from "effect"
import * as GatewayConfig from "../../../gateway/src/GatewayConfig.ts"
import * as NotificationsConfig from "../../../notifications/src/NotificationsConfig.ts"
import { TasksConfig } from "../../../tasks/src/TasksConfig.ts"

export const serviceNames = ["gateway", "tasks", "notifications"] as const
export type ServiceName = (typeof serviceNames)[number]

export const isServiceName = (name: string): name is ServiceName => serviceNames.some((service) => service === name)

/** Each service drains in-flight work within about 10 s of SIGTERM (README: Operating it). */
export const drainSeconds = 10

const loaders: Record<ServiceName, Effect.Effect<unknown, { readonly problems: ReadonlyArray<string> }>> = {
  gateway: GatewayConfig.load,
  tasks: TasksConfig.settings,
  notifications: NotificationsConfig.load
}

/** What the service's own loader says about `env`: no problems means it would start. */
export const configProblems = (service: ServiceName, env: Record<string, string>): Promise<ReadonlyArray<string>> =>
  Effect.runPromise(
    loaders[service].pipe(
      Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })),
      Effect.match({ onSuccess: () => [], onFailure: (error) => error.problems })
    )
  )

/** A stand-in for a value that comes from a Secret: present, but unknown offline. */
export const secretPlaceholder = (name: string): string => `secret-value-of-${name}`
