/**
 * Drives the system as a user does: `pnpm start` as a child process, REST calls to the gateway,
 * reads of the notifications debug API, signals to stop it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { rabbitmqctl } from "@workstream/platform/testing"
import { freePort } from "@workstream/tasks/testing"
import { Effect, Schedule, type Scope } from "effect"

export const ROOT = fileURLToPath(new URL("../../..", import.meta.url))

export interface Launched {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** The environment without any server URL: what a fresh machine has. */
export const bareEnvironment = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined && !["DATABASE_URL", "AMQP_URL", "REDIS_URL", "MONGO_URL", "CI"].includes(entry[0])
    )
  )

/** Runs a command in its own process group from the repository root; killed with the group when the scope ends. */
export const launch = (
  command: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>
): Effect.Effect<Launched, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      child.stdout?.on("data", (chunk) => {
        output += chunk
      })
      child.stderr?.on("data", (chunk) => {
        output += chunk
      })
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on("exit", (code, signal) => resolve({ code, signal }))
      )
      return { child, output: () => output, exited }
    }),
    ({ child }) =>
      Effect.sync(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL")
        } catch {
          // Already gone.
        }
      })
  )

/** The pid of the process running `script` among the descendants of `root` (pnpm runs it through a shell). */
export const descendantRunning = (root: number, script: string): number | undefined => {
  const table = execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((match) => match !== null)
    .map((match) => ({ pid: Number(match[1]), ppid: Number(match[2]), args: match[3] ?? "" }))
  const family = new Set([root])
  for (let grew = true; grew; ) {
    grew = false
    for (const row of table) {
      if (family.has(row.ppid) && !family.has(row.pid)) {
        family.add(row.pid)
        grew = true
      }
    }
  }
  const shell = /^(\/bin\/)?sh /
  return table.find((row) => family.has(row.pid) && row.args.includes(script) && !shell.test(row.args))?.pid
}

const patiently = Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: "30 seconds" }))

/** Polls until the URL answers 200. */
export const awaitReady = (url: string) =>
  Effect.tryPromise(() => fetch(url)).pipe(
    Effect.filterOrFail((response) => response.status === 200),
    Effect.retry(patiently),
    Effect.asVoid
  )

export const json = <A>(url: string, init?: RequestInit) =>
  Effect.tryPromise(async () => {
    const response = await fetch(url, init)
    const body = await response.text()
    if (!response.ok) throw new Error(`${init?.method ?? "GET"} ${url}: ${response.status} ${body}`)
    return JSON.parse(body) as A
  })

export interface TaskJson {
  readonly id: string
  readonly status: string
}

export const createTask = (gateway: string, title: string) =>
  json<TaskJson>(`${gateway}/api/v1/tasks`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ title })
  })

export const completeTask = (gateway: string, id: string) =>
  json<TaskJson>(`${gateway}/api/v1/tasks/${id}/complete`, { method: "POST" })

export interface NotificationJson {
  readonly event_id: string
  readonly event_type: string
  readonly task_id: string
}

/** Every notification record, page by page. */
export const allNotifications = (notifications: string) =>
  Effect.gen(function* () {
    const items: Array<NotificationJson> = []
    let cursor: string | null = null
    do {
      const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`
      const page = yield* json<{ items: ReadonlyArray<NotificationJson>; next_cursor: string | null }>(
        `${notifications}/api/v1/notifications?limit=100${query}`
      )
      items.push(...page.items)
      cursor = page.next_cursor
    } while (cursor !== null)
    return items
  })

/** Polls the debug API until `until` holds of every record, within a bound. */
export const awaitNotifications = (
  notifications: string,
  until: (items: ReadonlyArray<NotificationJson>) => boolean,
  within: Schedule.Schedule<unknown> = patiently
) => allNotifications(notifications).pipe(Effect.filterOrFail(until), Effect.retry(within))

/** A RabbitMQ virtual host of its own for the scope's lifetime: real topology names, nobody else's messages. */
export const freshVhost = (base: string) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const vhost = `ws-e2e-${Math.random().toString(16).slice(2, 10)}`
      yield* rabbitmqctl("add_vhost", vhost)
      yield* rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
      return { vhost, url: `${base}/${vhost}` }
    }),
    ({ vhost }) =>
      rabbitmqctl("delete_vhost", vhost).pipe(Effect.catch((error) => Effect.logWarning(`vhost left behind: ${error}`)))
  )

/** Closes every client connection of one virtual host, as a broker restart or a network cut would. */
export const closeAllConnections = (vhost: string) =>
  Effect.asVoid(rabbitmqctl("close_all_connections", "-p", vhost, "end-to-end test: connections cut"))

/** Free ports for every part of the system, the variables that put each part there, and its URLs. */
export const systemPorts = Effect.gen(function* () {
  const [gateway, tasksGrpc, tasksHttp, notifications, postgres] = yield* Effect.all([
    freePort,
    freePort,
    freePort,
    freePort,
    freePort
  ])
  const ports = { gateway, tasksGrpc, tasksHttp, notifications, postgres } as const
  return {
    ports,
    env: {
      GATEWAY_PORT: String(gateway),
      TASKS_GRPC_PORT: String(tasksGrpc),
      TASKS_HTTP_PORT: String(tasksHttp),
      NOTIFICATIONS_PORT: String(notifications),
      EMBEDDED_POSTGRES_PORT: String(postgres)
    },
    gateway: `http://127.0.0.1:${gateway}`,
    notifications: `http://127.0.0.1:${notifications}`
  }
})
