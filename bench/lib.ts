/**
 * Shared helpers of the benchmarks: ids and valid events, processes, ports, readiness, metrics,
 * RSS, statistics, and the throwaway Postgres databases / RabbitMQ vhosts each run uses.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("..", import.meta.url))
const PG_ADMIN = { host: "127.0.0.1", port: 5432, user: "postgres" }
export const REDIS_URL = "redis://127.0.0.1:6379"
export const DEDUPE_PREFIX = "workstream:processed:"

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A UUIDv7 (RFC 9562): 48 bits of milliseconds, version 7, variant 10, random bits elsewhere. */
export const uuidv7 = (now = Date.now()): string => {
  const b = randomBytes(16)
  let t = now
  for (let i = 5; i >= 0; i--) {
    b[i] = t % 256
    t = Math.floor(t / 256)
  }
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x70
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80
  const h = b.toString("hex")
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export const traceId = () => randomBytes(16).toString("hex")

export interface TaskRow {
  readonly id: string
  readonly title: string
  readonly status: "PENDING"
  readonly priority: string
  readonly created_at: string
  readonly updated_at: string
  readonly version: 1
}

export const newTask = (title: string, priority = "MEDIUM"): TaskRow => {
  const now = new Date()
  const at = now.toISOString()
  return { id: uuidv7(now.getTime()), title, status: "PENDING", priority, created_at: at, updated_at: at, version: 1 }
}

/** A valid `workstream.task.created.v1` event body (the wire shape `encodeEvent` produces). */
export const createdEvent = (task: TaskRow, eventId = uuidv7()): string =>
  JSON.stringify({
    event_id: eventId,
    event_type: "workstream.task.created.v1",
    occurred_at: task.created_at,
    producer: "workstream-tasks",
    trace_id: traceId(),
    payload: task
  })

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

export interface Proc {
  readonly child: ChildProcess
  readonly name: string
  /** Last lines it printed, for error messages. */
  readonly tail: Array<string>
  readonly exited: Promise<number | null>
  onLine(listener: (line: string) => void): void
}

/** Spawns `node <script>` (Node 24: this process's binary) with extra env; output is kept, not printed. */
export const spawnNode = (
  name: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  options: { readonly nodeOptions?: ReadonlyArray<string>; readonly command?: string } = {}
): Proc => {
  const command = options.command ?? process.execPath
  const child = spawn(command, [...(options.nodeOptions ?? []), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "Warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true
  })
  const tail: Array<string> = []
  const listeners: Array<(line: string) => void> = []
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line === "") continue
      tail.push(line)
      if (tail.length > 30) tail.shift()
      for (const l of listeners) l(line)
    }
  }
  child.stdout?.on("data", onData)
  child.stderr?.on("data", onData)
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, name, tail, exited, onLine: (l) => listeners.push(l) }
}

/** SIGTERM to the process group it leads, then SIGKILL after `graceMs`. */
export const stop = async (proc: Proc, graceMs = 15_000): Promise<void> => {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return
  const pid = proc.child.pid
  if (pid === undefined) return
  try {
    process.kill(-pid, "SIGTERM")
  } catch {
    return
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, "SIGKILL")
    } catch {}
  }, graceMs)
  await proc.exited
  clearTimeout(timer)
}

/** Polls `url` until it answers 200; fails with the process's last lines if it dies or times out. */
export const waitReady = async (url: string, proc: Proc, timeoutMs = 60_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited:\n${proc.tail.join("\n")}`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await response.arrayBuffer()
      if (response.status === 200) return
    } catch {}
    await sleep(100)
  }
  throw new Error(`${proc.name} not ready at ${url} within ${timeoutMs} ms:\n${proc.tail.join("\n")}`)
}

/** Sum of every sample of a Prometheus metric whose labels contain `labelMatch`. */
export const metric = async (url: string, name: string, labelMatch = ""): Promise<number> => {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text()
  let sum = 0
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (!(rest.startsWith(" ") || rest.startsWith("{"))) continue
    if (labelMatch !== "" && !rest.includes(labelMatch)) continue
    const value = Number(line.slice(line.lastIndexOf(" ") + 1))
    if (Number.isFinite(value)) sum += value
  }
  return sum
}

/** Resident set size in MB of one process (from /proc). */
export const rssMb = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match === null ? Number.NaN : Number(match[1]) / 1024
}

/** Descendants of `pid` with their command lines. */
export const descendants = (pid: number): Array<{ pid: number; cmd: string }> => {
  const parent = new Map<number, number>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      parent.set(Number(entry), Number(fields[1]))
    } catch {}
  }
  const out: Array<{ pid: number; cmd: string }> = []
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp !== p) continue
      let cmd = ""
      try {
        cmd = readFileSync(`/proc/${child}/cmdline`, "utf8").replaceAll("\0", " ")
      } catch {}
      out.push({ pid: child, cmd })
      walk(child)
    }
  }
  walk(pid)
  return out
}

export interface Stat {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: ReadonlyArray<number>
}

export const stat = (runs: ReadonlyArray<number>): Stat => {
  const sorted = [...runs].sort((a, b) => a - b)
  const n = sorted.length
  const at = (i: number) => sorted[i] ?? Number.NaN
  const median = n === 0 ? Number.NaN : n % 2 === 1 ? at((n - 1) / 2) : (at(n / 2 - 1) + at(n / 2)) / 2
  return { median, min: sorted[0] ?? Number.NaN, max: sorted[n - 1] ?? Number.NaN, runs }
}

export const percentile = (sortedAsc: ReadonlyArray<number>, p: number): number => {
  if (sortedAsc.length === 0) return Number.NaN
  const index = Math.min(sortedAsc.length - 1, Math.max(0, Math.ceil((p / 100) * sortedAsc.length) - 1))
  return sortedAsc[index] ?? Number.NaN
}

const run = (file: string, args: ReadonlyArray<string>) =>
  execFileSync(file, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" })

export const createDb = (name: string) => run("createdb", ["-h", PG_ADMIN.host, "-U", PG_ADMIN.user, name])
export const dropDb = (name: string) => {
  try {
    run("dropdb", ["-h", PG_ADMIN.host, "-U", PG_ADMIN.user, "--if-exists", "--force", name])
  } catch (error) {
    process.stderr.write(`dropdb ${name}: ${String(error)}\n`)
  }
}
export const dbUrl = (name: string) => `postgres://${PG_ADMIN.user}@${PG_ADMIN.host}:${PG_ADMIN.port}/${name}`

export const addVhost = (vhost: string) => {
  run("rabbitmqctl", ["-q", "add_vhost", vhost])
  run("rabbitmqctl", ["-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"])
}
export const deleteVhost = (vhost: string) => {
  try {
    run("rabbitmqctl", ["-q", "delete_vhost", vhost])
  } catch (error) {
    process.stderr.write(`delete_vhost ${vhost}: ${String(error)}\n`)
  }
}
export const amqpUrl = (vhost: string) => `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(vhost)}`

export const log = (line: string) => process.stdout.write(`${line}\n`)
export const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "n/a"

/** CPU seconds (user + system) a process has used so far. */
export const cpuSeconds = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

/** Busy and total jiffies of the whole machine (/proc/stat), to tell a saturated machine. */
export const machineCpu = (): { busy: number; total: number } => {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? ""
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  const total = v.reduce((a, b) => a + b, 0)
  const idle = (v[3] ?? 0) + (v[4] ?? 0)
  return { busy: total - idle, total }
}

/** Pids of the shared servers' processes (Postgres, RabbitMQ, Redis), by command name. */
export const serverPids = (): Record<string, Array<number>> => {
  const out: Record<string, Array<number>> = { postgres: [], rabbitmq: [], redis: [] }
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    let comm = ""
    try {
      comm = readFileSync(`/proc/${entry}/comm`, "utf8").trim()
    } catch {
      continue
    }
    if (comm === "postgres") out.postgres?.push(Number(entry))
    else if (comm === "beam.smp") out.rabbitmq?.push(Number(entry))
    else if (comm === "redis-server") out.redis?.push(Number(entry))
  }
  return out
}
