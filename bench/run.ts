/**
 * `pnpm bench`: every figure of issue 9 against the local Postgres, RabbitMQ and Redis, each the
 * median of REPS runs (min, max kept), Workstream measured beside its baseline in the same run.
 * Writes bench/results/latest.json and regenerates docs/performance.md + docs/performance.svg.
 *
 *   pnpm bench              3 repetitions (about 8 minutes)
 *   pnpm bench --quick      1 short repetition (for development)
 *   pnpm bench --profile    also writes .cpuprofile files of the services (see bench/profile.ts)
 *   pnpm bench --only=create,e2e,consumer,relay,startup
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { Agent, request } from "node:http"
import { cpus, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import amqp from "amqplib"
import autocannon from "autocannon"
import { Effect } from "effect"
import { Redis } from "ioredis"
import pg from "pg"
import { DEFAULT_MEMORY_LIMIT } from "../packages/notifications/src/newest.ts"
import { Topology } from "../packages/platform/src/index.ts"
import * as Bundle from "../packages/system/src/Bundle.ts"
import { nodeOptionsOf, type SERVICE_NODE_OPTIONS } from "../packages/system/src/MultiProcess.ts"
import {
  addVhost,
  amqpUrl,
  cpuSeconds,
  createDb,
  createdEvent,
  DEDUPE_PREFIX,
  dbUrl,
  deleteVhost,
  descendants,
  dropDb,
  fmt,
  freePort,
  log,
  machineCpu,
  metric,
  newTask,
  type Proc,
  percentile,
  REDIS_URL,
  ROOT,
  rssMb,
  type Stat,
  serverPids,
  sleep,
  spawnNode,
  stat,
  stop,
  uuidv7,
  waitReady
} from "./lib.ts"
import { writeReport } from "./report.ts"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const profile = args.includes("--profile")
const only = args
  .find((a) => a.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",")
const wants = (part: string) => only === undefined || only.includes(part)

const REPS = quick ? 1 : 3
const CREATE_SECONDS = quick ? 4 : 10
/**
 * Load before the measured create runs, each side alone. Both still speed up for 12-16 s after
 * start (JIT): 4 s slices read Workstream 1,061 / 1,297 / 1,408 / 1,645 req/s, then 1,390-1,590,
 * and the bare baseline 2,687 / 2,969 / 3,428 / 3,486. Quick runs, for A/B, keep a short one.
 */
const CREATE_WARMUP_SECONDS = quick ? 3 : 20
const CONNECTIONS = 64
const E2E_RATE = 200
const E2E_SECONDS = quick ? 10 : 30
// The end-to-end part reads a run's records back by id from the in-memory store, which keeps the newest.
if (E2E_RATE * E2E_SECONDS > DEFAULT_MEMORY_LIMIT) throw new Error("an end-to-end run would outgrow the record store")
/** Sent at the same rate before the measured runs: a just-started system is still compiling its hot paths. */
const E2E_WARMUP_SECONDS = 5
const EVENTS = quick ? 10_000 : 50_000
const PREFETCH = 20
const DRAIN_TIMEOUT_MS = quick ? 60_000 : 90_000
/** The service's drain is cut here (then its rate is over what it drained) to keep `pnpm bench` under 10 min. */
const CONSUMER_TIMEOUT_MS = quick ? 30_000 : 40_000

const CEILINGS = {
  publishBatchedConfirms: 12_723,
  pgTxAt32Clients: 4_632,
  bareHttpWithInsert: 7_489,
  consumeAckPrefetch100: 23_922,
  redisSetNx64: 72_519
}

const runId = `bench_${Date.now().toString(36)}_${process.pid}`
const profDir = join(tmpdir(), `${runId}_prof`)
const nodeOptions = profile ? `--cpu-prof --cpu-prof-dir=${profDir}` : ""

const results: Record<string, unknown> = {}
/** Figures that explain the others (no target): printed and listed in docs/performance.md. */
const diagnostics: Array<string> = []
const diagnose = (line: string) => {
  diagnostics.push(line)
  log(`  (diagnostic) ${line}`)
}
const figures: Array<Figure> = []

export interface Figure {
  readonly id: string
  readonly label: string
  readonly unit: string
  readonly workstream: Stat
  readonly baseline?: Stat | undefined
  readonly baselineLabel?: string | undefined
  /** workstream / baseline (or / ceiling); "higher" figures want a large ratio, "lower" a small one. */
  readonly ratio?: number | undefined
  readonly target: string
  readonly met: boolean | undefined
  readonly better: "higher" | "lower"
}

const addFigure = (figure: Figure) => {
  figures.push(figure)
  const base = figure.baseline === undefined ? "" : `  baseline ${fmt(figure.baseline.median, 1)}`
  const ratio = figure.ratio === undefined ? "" : `  ratio ${fmt(figure.ratio, 2)}`
  const met = figure.met === undefined ? "" : figure.met ? "  MET" : "  MISSED"
  log(
    `  => ${figure.label}: ${fmt(figure.workstream.median, 1)} ${figure.unit} [${fmt(figure.workstream.min, 1)}–${fmt(figure.workstream.max, 1)}]${base}${ratio}  target ${figure.target}${met}`
  )
}

// ---------------------------------------------------------------------------------------------
// Resources of this run: databases, vhosts, Redis keys; all removed at the end.

const resources = {
  dbs: [] as Array<string>,
  vhosts: [] as Array<string>,
  redisKeys: [] as Array<string>,
  procs: [] as Array<Proc>
}

const db = (suffix: string) => {
  const name = `${runId}_${suffix}`
  createDb(name)
  resources.dbs.push(name)
  return name
}
const vhost = (suffix: string) => {
  const name = `${runId}_${suffix}`
  addVhost(name)
  resources.vhosts.push(name)
  return name
}

const track = (proc: Proc) => {
  resources.procs.push(proc)
  return proc
}

/** Once, whether from the end of `main` or a signal: the services run in their own process groups. */
let cleaning: Promise<void> | undefined
const cleanup = () => {
  cleaning ??= release()
  return cleaning
}
const release = async () => {
  for (const proc of resources.procs) await stop(proc)
  if (resources.redisKeys.length > 0) {
    const redis = new Redis(REDIS_URL)
    for (let i = 0; i < resources.redisKeys.length; i += 1000) {
      await redis.unlink(...resources.redisKeys.slice(i, i + 1000))
    }
    await redis.quit()
  }
  for (const name of resources.dbs) dropDb(name)
  for (const name of resources.vhosts) deleteVhost(name)
}

// ---------------------------------------------------------------------------------------------
// Services

/** Services run as `pnpm start` runs them: from their bundles (built once, at the start of the run). */
const serviceMain = Bundle.mainOf

/** The system's launcher gets only the bench's own flags: `pnpm start` puts each service's heap bounds before them. */
const withExtraOptions = (env: Record<string, string>) => ({ ...env, NODE_OPTIONS: nodeOptions })

/** A service the bench starts by itself runs as `pnpm start` runs it: its heap bounds, then the bench's flags. */
const withNodeOptions = (service: keyof typeof SERVICE_NODE_OPTIONS, env: Record<string, string>) => ({
  ...env,
  NODE_OPTIONS: nodeOptionsOf(service, nodeOptions)
})

interface System {
  readonly proc: Proc
  readonly gateway: string
  readonly tasksHttp: string
  readonly notifications: string
}

const startSystem = async (name: string, database: string, vh: string): Promise<System> => {
  const [gw, grpc, th, nh] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
  const proc = track(
    spawnNode(
      "system",
      ["packages/system/src/start.ts"],
      withExtraOptions({
        DATABASE_URL: dbUrl(database),
        AMQP_URL: amqpUrl(vh),
        REDIS_URL,
        NOTIFICATION_STORE: "memory",
        DEDUPE_TTL: "30 minutes",
        GATEWAY_PORT: String(gw),
        TASKS_GRPC_PORT: String(grpc),
        TASKS_HTTP_PORT: String(th),
        NOTIFICATIONS_PORT: String(nh)
      })
    )
  )
  const system = {
    proc,
    gateway: `http://127.0.0.1:${gw}`,
    tasksHttp: `http://127.0.0.1:${th}`,
    notifications: `http://127.0.0.1:${nh}`
  }
  await waitReady(`${system.tasksHttp}/readyz`, proc)
  await waitReady(`${system.notifications}/readyz`, proc)
  await waitReady(`${system.gateway}/readyz`, proc)
  await sleep(1000)
  const idle = serviceRss(proc)
  diagnose(
    `RSS of the ${name} system right after start, before any request: ${Object.entries(idle)
      .map(([k, v]) => `${k} ${fmt(v)} MB`)
      .join(", ")}`
  )
  return system
}

const servicePids = (proc: Proc): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const { pid, cmd } of descendants(proc.child.pid ?? 0)) {
    const match = /packages\/(tasks|notifications|gateway)\/dist\/main\.mjs/.exec(cmd)
    if (match?.[1] !== undefined) out[match[1]] = pid
  }
  return out
}

const serviceRss = (proc: Proc): Record<string, number> =>
  Object.fromEntries(Object.entries(servicePids(proc)).map(([svc, pid]) => [svc, rssMb(pid)]))

/** CPU ms each process used per successful request during `body`, and the machine's busy share. */
const withCpu = async <A extends { ok: number }>(pids: Record<string, number>, body: () => Promise<A>) => {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]))
  // The servers are shared with other work on this machine: their share is indicative only.
  // Per pid, and only pids alive at both ends (backends of other work come and go).
  const servers = serverPids()
  const servers0 = Object.fromEntries(Object.entries(servers).map(([k, list]) => [k, list.map(cpuSeconds)]))
  // A process that appeared meanwhile (a new backend) counts whole; one that exited is lost.
  const serverCpu = () => {
    const now = serverPids()
    return Object.fromEntries(
      Object.entries(now).map(([k, list]) => [
        k,
        list.reduce((sum, pid) => {
          const i = servers[k]?.indexOf(pid) ?? -1
          const delta = cpuSeconds(pid) - (i === -1 ? 0 : (servers0[k]?.[i] ?? Number.NaN))
          return Number.isFinite(delta) ? sum + delta : sum
        }, 0)
      ])
    )
  }
  const self0 = process.cpuUsage()
  const m0 = machineCpu()
  const result = await body()
  const m1 = machineCpu()
  const self1 = process.cpuUsage(self0)
  const perRequest: Record<string, number> = {}
  for (const [k, pid] of Object.entries(pids)) perRequest[k] = ((cpuSeconds(pid) - (before[k] ?? 0)) * 1000) / result.ok
  perRequest.loadgen = (self1.user + self1.system) / 1000 / result.ok
  const servers1 = serverCpu()
  for (const k of Object.keys(servers1)) perRequest[`${k}*`] = ((servers1[k] ?? 0) * 1000) / result.ok
  const machineBusy = (m1.busy - m0.busy) / (m1.total - m0.total)
  return { ...result, cpuMsPerRequest: perRequest, machineBusy }
}

const cpuLine = (r: { cpuMsPerRequest: Record<string, number>; machineBusy: number }) =>
  `        CPU ms/request: ${Object.entries(r.cpuMsPerRequest)
    .map(([k, v]) => `${k} ${fmt(v, 2)}`)
    .join(", ")}; machine ${fmt(100 * r.machineBusy)} % busy (* shared server, all its work)`

const heapUsed = async (system: System): Promise<Record<string, number>> => {
  const out: Record<string, number> = {}
  for (const [svc, base] of [
    ["gateway", system.gateway],
    ["tasks", system.tasksHttp],
    ["notifications", system.notifications]
  ] as const) {
    try {
      out[svc] = (await metric(`${base}/metrics`, "nodejs_heap_used_bytes")) / 2 ** 20
    } catch {
      out[svc] = Number.NaN
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// 1. Create path

const BODY = JSON.stringify({ title: "Benchmark task", priority: "HIGH" })

const cannon = async (url: string, duration: number) => {
  const result = await autocannon({
    url: `${url}/api/v1/tasks`,
    method: "POST",
    connections: CONNECTIONS,
    duration,
    headers: { "content-type": "application/json" },
    body: BODY
  })
  const ok = result["2xx"]
  return {
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts
  }
}

const benchCreate = async (system: System, baselineDb: string) => {
  log(
    `\n[1] create path: autocannon ${CONNECTIONS} connections, ${CREATE_SECONDS} s, Workstream and baseline alternating`
  )
  const port = await freePort()
  const baseline = track(
    spawnNode("baseline-http", ["bench/baseline-server.ts"], { DATABASE_URL: dbUrl(baselineDb), PORT: String(port) })
  )
  const baseUrl = `http://127.0.0.1:${port}`
  await waitReady(`${baseUrl}/readyz`, baseline)
  log(`  warm-up (${CREATE_WARMUP_SECONDS} s each)`)
  await cannon(system.gateway, CREATE_WARMUP_SECONDS)
  await cannon(baseUrl, CREATE_WARMUP_SECONDS)
  const pids = servicePids(system.proc)
  const basePid = { baseline: baseline.child.pid ?? 0 }
  type Run = Awaited<ReturnType<typeof withCpu<Awaited<ReturnType<typeof cannon>>>>>
  const ws: Array<Run> = []
  const base: Array<Run> = []
  const rss: Array<Record<string, number>> = []
  const heap: Array<Record<string, number>> = []
  for (let rep = 0; rep < REPS; rep++) {
    const w = await withCpu(pids, () => cannon(system.gateway, CREATE_SECONDS))
    rss.push(serviceRss(system.proc))
    heap.push(await heapUsed(system))
    ws.push(w)
    log(
      `  run ${rep + 1} Workstream: ${fmt(w.rps)} req/s  p50 ${w.p50} ms  p99 ${w.p99} ms  (non-2xx ${w.non2xx}, errors ${w.errors}, timeouts ${w.timeouts})`
    )
    log(cpuLine(w))
    log(
      `        RSS MB: ${Object.entries(rss.at(-1) ?? {})
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(", ")}`
    )
    const b = await withCpu(basePid, () => cannon(baseUrl, CREATE_SECONDS))
    base.push(b)
    log(`  run ${rep + 1} baseline:   ${fmt(b.rps)} req/s  p50 ${b.p50} ms  p99 ${b.p99} ms  (non-2xx ${b.non2xx})`)
    log(cpuLine(b))
  }
  await stop(baseline)
  const cpuSummary = (runs: Array<Run>) => {
    const keys = Object.keys(runs[0]?.cpuMsPerRequest ?? {})
    return keys
      .map((k) => `${k} ${fmt(stat(runs.map((r) => r.cpuMsPerRequest[k] ?? Number.NaN)).median, 2)}`)
      .join(", ")
  }
  diagnose(`create, CPU ms per request (median; * = shared server, all its work): Workstream ${cpuSummary(ws)}`)
  diagnose(`create, CPU ms per request, baseline: ${cpuSummary(base)}`)
  diagnose(
    `create, V8 heap in use (nodejs_heap_used_bytes, sampled every 5 s) after each Workstream run, MB: ${[
      "gateway",
      "tasks",
      "notifications"
    ]
      .map((svc) => `${svc} ${heap.map((h) => fmt(h[svc] ?? Number.NaN)).join(" / ")}`)
      .join("; ")}; RSS: ${["gateway", "tasks", "notifications"]
      .map((svc) => `${svc} ${rss.map((h) => fmt(h[svc] ?? Number.NaN)).join(" / ")}`)
      .join("; ")}`
  )
  const statementMetric = (suffix: string) =>
    metric(`${system.tasksHttp}/metrics`, `tasks_create_statement_creates_${suffix}`).catch(() => Number.NaN)
  const [statements, batched] = [await statementMetric("count"), await statementMetric("sum")]
  diagnose(
    `create, creates per statement (group commit, warm-up included): ${fmt(batched / statements, 1)} in ${fmt(statements)} statements`
  )
  diagnose(
    `create, machine busy during the runs: Workstream ${fmt(100 * stat(ws.map((r) => r.machineBusy)).median)} %, baseline ${fmt(100 * stat(base.map((r) => r.machineBusy)).median)} %`
  )
  results.create = { workstream: ws, baseline: base, rss, heap }
  const wsRps = stat(ws.map((r) => r.rps))
  const baseRps = stat(base.map((r) => r.rps))
  const wsP99 = stat(ws.map((r) => r.p99))
  const baseP99 = stat(base.map((r) => r.p99))
  const rpsRatio = wsRps.median / baseRps.median
  const p99Ratio = wsP99.median / baseP99.median
  addFigure({
    id: "create_rps",
    label: "create throughput (POST /api/v1/tasks, 64 conn.)",
    unit: "req/s",
    workstream: wsRps,
    baseline: baseRps,
    baselineLabel: "bare node:http + pg, same transaction",
    ratio: rpsRatio,
    target: ">= 50 % of baseline",
    met: rpsRatio >= 0.5,
    better: "higher"
  })
  addFigure({
    id: "create_p50",
    label: "create latency p50",
    unit: "ms",
    workstream: stat(ws.map((r) => r.p50)),
    baseline: stat(base.map((r) => r.p50)),
    baselineLabel: "bare node:http + pg",
    ratio: stat(ws.map((r) => r.p50)).median / stat(base.map((r) => r.p50)).median,
    target: "(reported)",
    met: undefined,
    better: "lower"
  })
  addFigure({
    id: "create_p99",
    label: "create latency p99",
    unit: "ms",
    workstream: wsP99,
    baseline: baseP99,
    baselineLabel: "bare node:http + pg",
    ratio: p99Ratio,
    target: "<= 3x baseline",
    met: p99Ratio <= 3,
    better: "lower"
  })
  for (const svc of ["gateway", "tasks", "notifications"]) {
    const s = stat(rss.map((r) => r[svc] ?? Number.NaN))
    addFigure({
      id: `rss_${svc}`,
      label: `RSS of ${svc} at the end of a create run`,
      unit: "MB",
      workstream: s,
      target: "< 150 MB",
      met: s.max < 150,
      better: "lower"
    })
  }
}

// ---------------------------------------------------------------------------------------------
// 2. End-to-end latency

const postOnce = (agent: Agent, base: URL): Promise<{ status: number; body: string; at: number }> =>
  new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        path: "/api/v1/tasks",
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(BODY) }
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() })
        )
      }
    )
    req.on("error", () => resolve({ status: 0, body: "", at: Date.now() }))
    req.end(BODY)
  })

const benchE2e = async (system: System, database: string) => {
  log(
    `\n[2] end-to-end latency: ${E2E_RATE} creates/s (open loop) for ${E2E_SECONDS} s after a ${E2E_WARMUP_SECONDS} s warm-up, the 201 -> received_at`
  )
  const pool = new pg.Pool({ connectionString: dbUrl(database), max: 2 })
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const base = new URL(system.gateway)
  const runs: Array<{
    p50: number
    p95: number
    p99: number
    max: number
    fromCreatedP50: number
    fromCreatedP99: number
    n: number
  }> = []
  // Run -1 is the warm-up: measured like the others, reported as a diagnostic only.
  for (let rep = -1; rep < REPS; rep++) {
    const warmUp = rep === -1
    const total = E2E_RATE * (warmUp ? E2E_WARMUP_SECONDS : E2E_SECONDS)
    const created: Array<{ id: string; created_at: string; at: number }> = []
    let failed = 0
    const pending: Array<Promise<void>> = []
    const start = performance.now()
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / E2E_RATE
      const wait = due - performance.now()
      if (wait > 1) await sleep(wait)
      pending.push(
        postOnce(agent, base).then(({ status, body, at }) => {
          if (status !== 201) {
            failed++
            return
          }
          const task = JSON.parse(body) as { id: string; created_at: string }
          created.push({ id: task.id, created_at: task.created_at, at })
        })
      )
    }
    await Promise.all(pending)
    const achieved = total / ((performance.now() - start) / 1000)
    // Event ids from the outbox (the tasks service's own database), then each record by id.
    const ids = created.map((c) => c.id)
    const { rows } = await pool.query<{ task_id: string; event_id: string; published_ms: number | null }>(
      `SELECT task_id::text, event_id::text, (extract(epoch FROM published_at) * 1000)::float8 AS published_ms
       FROM outbox WHERE task_id = ANY($1::uuid[])`,
      [ids]
    )
    const eventOf = new Map(rows.map((r) => [r.task_id, r.event_id]))
    const publishedOf = new Map(rows.map((r) => [r.task_id, r.published_ms]))
    // The two halves: created -> marked published by the relay, published -> recorded by notifications.
    const relayPart: Array<number> = []
    const consumerPart: Array<number> = []
    // The figure: from the moment the client has its 201 (the issue's definition). Beside it, from
    // the task's created_at, stamped before the transaction: that adds the create's own time.
    const from201: Array<number> = []
    const fromCreated: Array<number> = []
    let missing = 0
    const queue = [...created]
    const deadline = Date.now() + 30_000
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
          const eventId = eventOf.get(item.id)
          if (eventId === undefined) {
            missing++
            continue
          }
          for (;;) {
            const response = await fetch(`${system.notifications}/api/v1/notifications/${eventId}`)
            if (response.status === 200) {
              const record = (await response.json()) as { received_at: string }
              const received = Date.parse(record.received_at)
              from201.push(received - item.at)
              fromCreated.push(received - Date.parse(item.created_at))
              const published = publishedOf.get(item.id)
              if (typeof published === "number") {
                relayPart.push(published - Date.parse(item.created_at))
                consumerPart.push(received - published)
              }
              break
            }
            await response.arrayBuffer()
            if (Date.now() > deadline) {
              missing++
              break
            }
            await sleep(200)
          }
        }
      })
    )
    from201.sort((a, b) => a - b)
    fromCreated.sort((a, b) => a - b)
    const run = {
      p50: percentile(from201, 50),
      p95: percentile(from201, 95),
      p99: percentile(from201, 99),
      max: from201.at(-1) ?? Number.NaN,
      fromCreatedP50: percentile(fromCreated, 50),
      fromCreatedP99: percentile(fromCreated, 99),
      n: from201.length
    }
    if (warmUp) {
      diagnose(
        `e2e warm-up (the first ${E2E_WARMUP_SECONDS} s after start, not in the figures): p50 ${run.p50} / p99 ${run.p99} / max ${run.max} ms, ${missing} not recorded`
      )
      continue
    }
    runs.push(run)
    relayPart.sort((a, b) => a - b)
    consumerPart.sort((a, b) => a - b)
    diagnose(
      `e2e run ${rep + 1}: created_at -> record p50 ${run.fromCreatedP50} / p99 ${run.fromCreatedP99} ms; created_at -> outbox published_at p50 ${fmt(percentile(relayPart, 50))} / p99 ${fmt(percentile(relayPart, 99))} ms; published_at -> record received_at p50 ${fmt(percentile(consumerPart, 50))} / p99 ${fmt(percentile(consumerPart, 99))} ms (published_at is stamped after the batch's confirms)`
    )
    log(
      `  run ${rep + 1}: ${fmt(achieved)} creates/s sent, ${created.length} created, ${failed} failed, ${missing} not recorded; p50 ${run.p50} ms  p95 ${run.p95} ms  p99 ${run.p99} ms  max ${run.max} ms  (created_at -> record p50 ${run.fromCreatedP50} / p99 ${run.fromCreatedP99} ms)`
    )
  }
  agent.destroy()
  await pool.end()
  results.e2e = runs
  for (const p of ["p50", "p95", "p99"] as const) {
    const s = stat(runs.map((r) => r[p]))
    addFigure({
      id: `e2e_${p}`,
      label: `end-to-end latency ${p} (201 -> notification record, 200/s)`,
      unit: "ms",
      workstream: s,
      target: p === "p99" ? "< 50 ms" : "(reported)",
      met: p === "p99" ? s.median < 50 : undefined,
      better: "lower"
    })
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Consumer throughput (and the batched-confirm publish baseline, measured while preloading)

/** The service's own topology (no prefix): the bench declares exactly what the service would. */
const topology = Topology.make()

/** Publishes `count` valid created events with confirms awaited per batch of 100; returns msg/s. */
const preload = async (url: string, count: number): Promise<{ rate: number; ids: Array<string> }> => {
  const connection = await amqp.connect(url)
  const channel = await connection.createConfirmChannel()
  await Effect.runPromise(Topology.declare(channel, topology))
  const ids: Array<string> = []
  const bodies: Array<Buffer> = []
  for (let i = 0; i < count; i++) {
    const id = uuidv7()
    ids.push(id)
    bodies.push(Buffer.from(createdEvent(newTask(`Preloaded ${i}`), id)))
  }
  const start = performance.now()
  for (let i = 0; i < count; i += 100) {
    for (let j = i; j < Math.min(count, i + 100); j++) {
      channel.publish(topology.exchange, "workstream.task.created.v1", bodies[j] ?? Buffer.alloc(0), {
        persistent: true,
        mandatory: true,
        contentType: "application/json",
        messageId: ids[j] ?? ""
      })
    }
    await channel.waitForConfirms()
  }
  const rate = count / ((performance.now() - start) / 1000)
  await channel.close()
  await connection.close()
  return { rate, ids }
}

/** Drains `count` events like the service, bare; its events/s and its own CPU ms per event (this process does nothing else meanwhile). */
const baselineConsume = async (
  url: string,
  count: number,
  prefix: string
): Promise<{ readonly rate: number; readonly cpuMsPerEvent: number }> => {
  const redis = new Redis(REDIS_URL)
  const connection = await amqp.connect(url)
  const channel = await connection.createChannel()
  await channel.prefetch(PREFETCH)
  let done = 0
  let first = 0
  let last = 0
  let cpuAtFirst = process.cpuUsage()
  let cpu = cpuAtFirst
  await new Promise<void>((resolve, reject) => {
    // Bounded like the service's drain: a lost message must not hang the whole run.
    const timer = setTimeout(
      () => reject(new Error(`baseline consumer: ${done} of ${count} after ${DRAIN_TIMEOUT_MS / 1000} s`)),
      DRAIN_TIMEOUT_MS
    )
    void channel.consume(topology.queue.name, (msg) => {
      if (msg === null) return
      if (first === 0) {
        first = performance.now()
        cpuAtFirst = process.cpuUsage()
      }
      const event = JSON.parse(msg.content.toString("utf8")) as { event_id: string }
      redis.set(prefix + event.event_id, "1", "EX", 1800, "NX").then(() => {
        channel.ack(msg)
        if (++done === count) {
          last = performance.now()
          cpu = process.cpuUsage(cpuAtFirst)
          clearTimeout(timer)
          resolve()
        }
      }, reject)
    })
  })
  await channel.close()
  await connection.close()
  await redis.quit()
  return { rate: count / ((last - first) / 1000), cpuMsPerEvent: (cpu.user + cpu.system) / 1000 / count }
}

const benchConsumer = async () => {
  log(`\n[3] consumer: ${EVENTS} preloaded events, prefetch ${PREFETCH}; notifications vs bare amqplib + ioredis`)
  const vh = vhost("consume")
  const url = amqpUrl(vh)
  const publish: Array<number> = []
  const ws: Array<number> = []
  const base: Array<number> = []
  const cpuPerEvent: Array<number> = []
  const baselineCpuPerEvent: Array<number> = []
  const baselinePrefix = `bench:${runId}:`
  for (let rep = 0; rep < REPS; rep++) {
    const a = await preload(url, EVENTS)
    publish.push(a.rate)
    for (const id of a.ids) resources.redisKeys.push(baselinePrefix + id)
    const { rate: b, cpuMsPerEvent: bCpu } = await baselineConsume(url, EVENTS, baselinePrefix)
    base.push(b)
    baselineCpuPerEvent.push(bCpu)
    const c = await preload(url, EVENTS)
    publish.push(c.rate)
    for (const id of c.ids) resources.redisKeys.push(DEDUPE_PREFIX + id)
    const port = await freePort()
    const proc = track(
      spawnNode(
        "notifications",
        [serviceMain("notifications")],
        withNodeOptions("notifications", {
          AMQP_URL: url,
          REDIS_URL,
          NOTIFICATION_STORE: "memory",
          HTTP_PORT: String(port),
          PREFETCH: String(PREFETCH),
          DEDUPE_TTL: "30 minutes"
        })
      )
    )
    const metrics = `http://127.0.0.1:${port}/metrics`
    const pid = proc.child.pid ?? 0
    let first: { t: number; n: number; cpu: number } | undefined
    let lastSample = { t: 0, n: 0, cpu: 0 }
    const deadline = Date.now() + CONSUMER_TIMEOUT_MS
    while (Date.now() < deadline) {
      let n = 0
      try {
        n = await metric(metrics, "notifications_events_consumed_total")
      } catch {}
      const t = performance.now()
      const cpu = cpuSeconds(pid)
      if (n > 0 && first === undefined) first = { t, n, cpu }
      lastSample = { t, n, cpu }
      if (n >= EVENTS) break
      if (proc.child.exitCode !== null) throw new Error(`notifications exited:\n${proc.tail.join("\n")}`)
      await sleep(100)
    }
    const rate = first === undefined ? 0 : (lastSample.n - first.n) / ((lastSample.t - first.t) / 1000)
    // CPU per event is steadier than the rate on a shared machine: what a change to the pipeline is judged by.
    if (first !== undefined) cpuPerEvent.push(((lastSample.cpu - first.cpu) * 1000) / (lastSample.n - first.n))
    const rss = proc.child.pid === undefined ? Number.NaN : rssMb(proc.child.pid)
    await stop(proc)
    ws.push(rate)
    if (lastSample.n < EVENTS) {
      diagnose(
        `consumer run ${rep + 1}: notifications drained ${lastSample.n} of ${EVENTS} in ${CONSUMER_TIMEOUT_MS / 1000} s; its rate is over those`
      )
    }
    log(
      `  run ${rep + 1}: publish (confirms per 100) ${fmt(a.rate)} / ${fmt(c.rate)} msg/s; baseline consumer ${fmt(b)} ev/s; notifications ${fmt(rate)} ev/s${lastSample.n < EVENTS ? ` (TIMED OUT after ${lastSample.n} events)` : ""}; notifications RSS after drain ${fmt(rss)} MB`
    )
    if (lastSample.n < EVENTS) {
      const connection = await amqp.connect(url)
      const channel = await connection.createChannel()
      await channel.purgeQueue(topology.queue.name)
      await connection.close()
    }
  }
  results.consumer = {
    workstream: ws,
    baseline: base,
    publish,
    cpuMsPerEvent: cpuPerEvent,
    baselineCpuMsPerEvent: baselineCpuPerEvent
  }
  diagnose(
    `consumer, CPU ms per event: notifications ${cpuPerEvent.map((c) => fmt(c, 3)).join(" / ")}; the bare consumer ${baselineCpuPerEvent.map((c) => fmt(c, 3)).join(" / ")}`
  )
  const w = stat(ws)
  const b = stat(base)
  addFigure({
    id: "consumer_rate",
    label: `consumer drain (${EVENTS} events, prefetch ${PREFETCH})`,
    unit: "events/s",
    workstream: w,
    baseline: b,
    baselineLabel: "bare amqplib + ioredis SET NX EX + ack",
    ratio: w.median / b.median,
    target: ">= 60 % of baseline",
    met: w.median / b.median >= 0.6,
    better: "higher"
  })
  return stat(publish)
}

// ---------------------------------------------------------------------------------------------
// 4. Relay throughput

const insertOutbox = async (pool: pg.Pool, count: number) => {
  for (let i = 0; i < count; i += 5000) {
    const eventIds: Array<string> = []
    const taskIds: Array<string> = []
    const bodies: Array<string> = []
    for (let j = i; j < Math.min(count, i + 5000); j++) {
      const task = newTask(`Relayed ${j}`)
      const eventId = uuidv7()
      eventIds.push(eventId)
      taskIds.push(task.id)
      bodies.push(createdEvent(task, eventId))
    }
    await pool.query(
      `INSERT INTO outbox (event_id, event_type, task_id, body)
       SELECT e, 'workstream.task.created.v1', t, b FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS x(e, t, b)`,
      [eventIds, taskIds, bodies]
    )
  }
}

const benchRelay = async (publishBaseline: Stat | undefined) => {
  log(`\n[4] relay: ${EVENTS} unpublished outbox rows -> published and confirmed`)
  const database = db("relay")
  const vh = vhost("relay")
  const pool = new pg.Pool({ connectionString: dbUrl(database), max: 2 })
  const env = async () => {
    const [grpc, http] = await Promise.all([freePort(), freePort()])
    return {
      env: withNodeOptions("tasks", {
        DATABASE_URL: dbUrl(database),
        AMQP_URL: amqpUrl(vh),
        GRPC_PORT: String(grpc),
        HTTP_PORT: String(http)
      }),
      ready: `http://127.0.0.1:${http}/readyz`
    }
  }
  // Once, to migrate and declare the topology.
  {
    const { env: e, ready } = await env()
    const proc = track(spawnNode("tasks", [serviceMain("tasks")], e))
    await waitReady(ready, proc)
    await stop(proc)
  }
  const once = async (extra: Record<string, string>) => {
    await pool.query("TRUNCATE outbox")
    await insertOutbox(pool, EVENTS)
    const { env: e, ready } = await env()
    const proc = track(spawnNode("tasks", [serviceMain("tasks")], { ...e, ...extra }))
    await waitReady(ready, proc)
    const deadline = Date.now() + DRAIN_TIMEOUT_MS
    for (;;) {
      const { rows } = await pool.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM outbox WHERE published_at IS NULL"
      )
      if (rows[0]?.n === "0" || Date.now() > deadline) break
      await sleep(200)
    }
    await stop(proc)
    const { rows } = await pool.query<{ published: string; span_ms: number; first_batch: string }>(
      `SELECT count(*)::text AS published,
              (extract(epoch FROM max(published_at) - min(published_at)) * 1000)::float8 AS span_ms,
              count(*) FILTER (WHERE published_at = (SELECT min(published_at) FROM outbox))::text AS first_batch
       FROM outbox WHERE published_at IS NOT NULL`
    )
    const row = rows[0]
    const published = Number(row?.published ?? 0)
    const rate = (published - Number(row?.first_batch ?? 0)) / ((row?.span_ms ?? Number.NaN) / 1000)
    const connection = await amqp.connect(amqpUrl(vh))
    const channel = await connection.createChannel()
    await channel.purgeQueue(topology.queue.name)
    await connection.close()
    return { rate, published, spanMs: row?.span_ms ?? Number.NaN }
  }
  const runs: Array<number> = []
  for (let rep = 0; rep < REPS; rep++) {
    const r = await once({})
    runs.push(r.rate)
    log(`  run ${rep + 1}: ${r.published} published in ${fmt(r.spanMs)} ms -> ${fmt(r.rate)} events/s`)
  }
  // What a larger batch alone would give (no code change): one run, for the report's diagnosis.
  const big = await once({ RELAY_BATCH_SIZE: "2000" })
  diagnose(
    `relay with RELAY_BATCH_SIZE=2000 (default 1000), one run: ${fmt(big.rate)} events/s (${fmt(big.rate / CEILINGS.publishBatchedConfirms, 2)} of the ceiling)`
  )
  await pool.end()
  results.relay = { runs, batch2000: big.rate }
  const s = stat(runs)
  addFigure({
    id: "relay_rate",
    label: `outbox relay (${EVENTS} rows, published + confirmed)`,
    unit: "events/s",
    workstream: s,
    baseline: publishBaseline,
    baselineLabel: "bare amqplib publish, confirms per 100 (this run)",
    ratio: s.median / CEILINGS.publishBatchedConfirms,
    target: `>= 50 % of ${fmt(CEILINGS.publishBatchedConfirms)} msg/s ceiling`,
    met: s.median / CEILINGS.publishBatchedConfirms >= 0.5,
    better: "higher"
  })
}

// ---------------------------------------------------------------------------------------------
// 5. Embedded start-up

const benchStartup = async () => {
  log("\n[5] embedded `pnpm start`: spawn -> 'Ready in'")
  const pnpm = process.env.npm_execpath
  const runs: Array<number> = []
  const reported: Array<number> = []
  for (let rep = 0; rep < REPS; rep++) {
    const [gw, grpc, th, nh, pgPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()])
    const env: Record<string, string> = {
      GATEWAY_PORT: String(gw),
      TASKS_GRPC_PORT: String(grpc),
      TASKS_HTTP_PORT: String(th),
      NOTIFICATIONS_PORT: String(nh),
      EMBEDDED_POSTGRES_PORT: String(pgPort),
      DATABASE_URL: "",
      AMQP_URL: "",
      REDIS_URL: "",
      LOG_LEVEL: "Info"
    }
    const start = performance.now()
    const proc = pnpm?.endsWith(".js")
      ? spawnNode("embedded", [pnpm ?? "", "start"], env)
      : spawnNode("embedded", ["start"], env, { command: pnpm ?? "pnpm" })
    track(proc)
    const elapsed = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`embedded start not ready:\n${proc.tail.join("\n")}`)), 60_000)
      proc.onLine((line) => {
        const match = /Ready in ([\d.]+) s/.exec(line)
        if (match !== null) {
          clearTimeout(timer)
          reported.push(Number(match[1]))
          resolve((performance.now() - start) / 1000)
        }
      })
      void proc.exited.then(() => reject(new Error(`embedded start exited:\n${proc.tail.join("\n")}`)))
    })
    await stop(proc)
    runs.push(elapsed)
    log(`  run ${rep + 1}: ${fmt(elapsed, 2)} s to 'Ready in' (it reports ${fmt(reported.at(-1) ?? Number.NaN, 1)} s)`)
  }
  results.startup = { wall: runs, reported }
  const s = stat(runs)
  addFigure({
    id: "startup_embedded",
    label: "embedded `pnpm start` to ready",
    unit: "s",
    workstream: s,
    target: "< 5 s",
    met: s.median < 5,
    better: "lower"
  })
}

// ---------------------------------------------------------------------------------------------

const main = async () => {
  const began = Date.now()
  const cpu = cpus()
  const machine = {
    cpu: cpu[0]?.model ?? "unknown",
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`
  }
  log(
    `Workstream benchmarks (${quick ? "quick: 1 short run" : `${REPS} runs each`}) on ${machine.cores} x ${machine.cpu}`
  )
  let publishBaseline: Stat | undefined
  // For the runs below that start a service by itself; the systems' `pnpm start` builds them again, to the same files.
  await Bundle.bundle(Bundle.SERVICES)
  try {
    // A system of its own (database, vhost, processes) for each of the two, so the end-to-end runs
    // start with an empty notification store and no backlog left by the create runs.
    const withSystem = async (name: string, body: (system: System, database: string) => Promise<void>) => {
      const database = db(name)
      const system = await startSystem(name, database, vhost(name))
      try {
        await body(system, database)
      } finally {
        // The dedupe keys its notifications wrote: every event in its outbox.
        const pool = new pg.Pool({ connectionString: dbUrl(database), max: 1 })
        const { rows } = await pool.query<{ id: string }>("SELECT event_id::text AS id FROM outbox")
        for (const r of rows) resources.redisKeys.push(DEDUPE_PREFIX + r.id)
        await pool.end()
        await stop(system.proc)
      }
    }
    if (wants("create")) {
      const baselineDb = db("baseline")
      // The same schema as the service's, from its own migrations.
      execFileSync(process.execPath, ["packages/tasks/src/migrate.ts"], {
        env: { ...process.env, DATABASE_URL: dbUrl(baselineDb) },
        stdio: "ignore"
      })
      await withSystem("create", (system) => benchCreate(system, baselineDb))
    }
    if (wants("e2e")) await withSystem("e2e", benchE2e)
    if (wants("consumer")) publishBaseline = await benchConsumer()
    if (wants("relay")) await benchRelay(publishBaseline)
    if (wants("startup")) await benchStartup()
  } finally {
    await cleanup()
  }
  const output = {
    generated_at: new Date().toISOString(),
    mode: quick ? "quick" : "full",
    repetitions: REPS,
    duration_s: Math.round((Date.now() - began) / 1000),
    machine,
    settings: {
      connections: CONNECTIONS,
      create_seconds: CREATE_SECONDS,
      create_warmup_seconds: CREATE_WARMUP_SECONDS,
      e2e_rate: E2E_RATE,
      e2e_seconds: E2E_SECONDS,
      e2e_warmup_seconds: E2E_WARMUP_SECONDS,
      events: EVENTS,
      prefetch: PREFETCH,
      profile: profile ? profDir : null
    },
    ceilings: CEILINGS,
    figures,
    diagnostics,
    raw: results
  }
  // Only a full run replaces the committed results; a quick or partial one goes to the temp directory.
  const partial = quick || only !== undefined
  const dir = partial ? tmpdir() : join(ROOT, "bench", "results")
  mkdirSync(dir, { recursive: true })
  const file = join(dir, partial ? "workstream-bench-quick.json" : "latest.json")
  writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`)
  // Formatted as the repository's Biome config wants, so `pnpm lint` stays clean (best effort).
  try {
    execFileSync(join(ROOT, "node_modules", ".bin", "biome"), ["format", "--write", file], { stdio: "ignore" })
  } catch {}
  log(`\nwrote ${file} (${output.duration_s} s)`)
  if (!quick && only === undefined) {
    writeReport(output)
    log("wrote docs/performance.md and docs/performance.svg")
  }
  if (profile) log(`CPU profiles in ${profDir}: pnpm exec node bench/profile.ts ${profDir}`)
}

for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143]
] as const) {
  process.once(signal, () => {
    void cleanup().then(() => process.exit(code))
  })
}

await main()
