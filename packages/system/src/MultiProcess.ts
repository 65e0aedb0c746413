/**
 * The three services as separate processes against your servers, each run from its bundle
 * (Bundle.ts): each line they print is prefixed with its service, SIGINT/SIGTERM is passed to all three (each drains and exits 0),
 * and if one of them dies the others are stopped too, so nothing is left half up.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import * as Bundle from "./Bundle.ts"
import type { SystemSettings } from "./SystemConfig.ts"

export interface ServiceProcess {
  readonly name: Bundle.Service
  readonly env: Readonly<Record<string, string>>
}

/** Where each service listens: the same ports as in the embedded mode. */
export const services = (settings: SystemSettings): ReadonlyArray<ServiceProcess> => [
  { name: "tasks", env: { GRPC_PORT: String(settings.tasksGrpcPort), HTTP_PORT: String(settings.tasksHttpPort) } },
  { name: "notifications", env: { HTTP_PORT: String(settings.notificationsPort) } },
  {
    name: "gateway",
    env: { HTTP_PORT: String(settings.gatewayPort), TASKS_GRPC_TARGET: `127.0.0.1:${settings.tasksGrpcPort}` }
  }
]

const prefixLines = (child: ChildProcess, name: string) => {
  const label = `[${name}]`.padEnd(16)
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr]
  ] as const) {
    if (stream !== null) createInterface({ input: stream }).on("line", (line) => out.write(`${label}${line}\n`))
  }
}

const heapBounds = (semiSpaceMb: number) => `--max-semi-space-size=${semiSpaceMb} --max-old-space-size=1024`

/**
 * V8 heap bounds of each service process. Unbounded on a large host, V8 grows the young
 * generation to 64 MB a semi-space and lets garbage pile up in a multi-gigabyte old generation: a
 * loaded service measured 300-425 MB of RSS around a live heap of about 50 MB, and about 150 MB
 * or less with these bounds and bundles, for some more CPU per request (bench/analysis.md). The old
 * generation's limit is a ceiling, not a target: a service's live heap is 30-40 MB, and the
 * in-memory record store (NOTIFICATION_STORE=memory) keeps a few MB by default. The consumer
 * allocates the most per unit of work: with 8 MB semi-spaces instead of 4 it spent 3-16 % less CPU
 * per event in alternating quick runs (not visible in the noise of the full runs), for about 13 MB
 * of RSS. The image sets the gateway's and tasks' bounds as its default and compose.yaml
 * notifications'; in Kubernetes each service gets its young generation and an old generation
 * sized to its pod's memory limit (infra/k8s). Flags in your own NODE_OPTIONS come after these,
 * so they win.
 */
export const SERVICE_NODE_OPTIONS: Readonly<Record<ServiceProcess["name"], string>> = {
  tasks: heapBounds(4),
  notifications: heapBounds(8),
  gateway: heapBounds(4)
}

/** A service's NODE_OPTIONS: its heap bounds, then `extra` (yours), which win where they repeat a flag. */
export const nodeOptionsOf = (name: ServiceProcess["name"], extra = process.env.NODE_OPTIONS) =>
  [SERVICE_NODE_OPTIONS[name], extra].filter(Boolean).join(" ")

/** How long a service may take to drain after SIGTERM before it is killed (its own drain is about 10 s). */
const STOP_GRACE_MS = 20_000

/**
 * Bundles the services, then runs them until a signal or a death; resolves with the exit code for
 * this process: 0 only when every service was asked to stop and exited 0 by itself.
 */
export const run = async (processes: ReadonlyArray<ServiceProcess>): Promise<number> => {
  try {
    await Bundle.bundle(processes.map(({ name }) => name))
  } catch (error) {
    // Nothing started yet: say what failed and stop, rather than end on an unhandled rejection.
    process.stderr.write(
      `[workstream] could not bundle the services: ${error instanceof Error ? error.message : String(error)}\n`
    )
    return 1
  }
  return supervise(processes)
}

const supervise = (processes: ReadonlyArray<ServiceProcess>): Promise<number> =>
  new Promise((resolve) => {
    let stopping = false
    let failed = false
    let running = processes.length
    const children = processes.map(({ name, env }) => {
      const child = spawn(process.execPath, [Bundle.mainOf(name)], {
        env: { ...process.env, ...env, NODE_OPTIONS: nodeOptionsOf(name) },
        stdio: ["ignore", "pipe", "pipe"]
      })
      prefixLines(child, name)
      child.on("error", (error) => {
        process.stderr.write(`[${name}] could not be started: ${error.message}\n`)
      })
      child.on("exit", (code, signal) => {
        running -= 1
        // Dying unasked is a failure whatever the code; asked to stop, only a clean exit is not.
        if (!stopping || code !== 0) {
          failed = true
          if (!stopping) process.stderr.write(`[${name}] exited (${signal ?? code}); stopping the others\n`)
          stopAll()
        }
        if (running === 0) resolve(failed ? 1 : 0)
      })
      return child
    })
    const alive = () => children.filter((child) => child.exitCode === null && child.signalCode === null)
    const stopAll = () => {
      if (stopping) return
      stopping = true
      for (const child of alive()) child.kill("SIGTERM")
      // A service that does not finish draining in time is killed, so `pnpm start` always ends.
      setTimeout(() => {
        for (const child of alive()) {
          process.stderr.write(`[workstream] a service did not stop within ${STOP_GRACE_MS / 1000} s; killing it\n`)
          child.kill("SIGKILL")
        }
      }, STOP_GRACE_MS).unref()
    }
    process.once("SIGINT", stopAll)
    process.once("SIGTERM", stopAll)
  })
