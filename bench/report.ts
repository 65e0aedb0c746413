/**
 * Regenerates docs/performance.md and docs/performance.svg from a results file.
 *   pnpm exec node bench/report.ts [bench/results/latest.json]
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Figure } from "./run.ts"

const ROOT = fileURLToPath(new URL("..", import.meta.url))

export interface Output {
  readonly generated_at: string
  readonly mode: string
  readonly repetitions: number
  readonly duration_s: number
  readonly machine: { cpu: string; cores: number; memoryGiB: number; node: string; platform: string }
  readonly settings: Record<string, unknown>
  readonly ceilings: Record<string, number>
  readonly figures: ReadonlyArray<Figure>
  readonly diagnostics?: ReadonlyArray<string>
}

const num = (n: number | undefined, digits = 0) =>
  n === undefined || !Number.isFinite(n)
    ? "n/a"
    : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

const digitsFor = (unit: string) => (unit === "s" ? 2 : unit === "ms" || unit === "MB" ? 1 : 0)

const escapeXml = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")

/** Horizontal bars, one row per figure, Workstream above its baseline, each row on its own scale. */
export const chart = (figures: ReadonlyArray<Figure>): string => {
  const groups: Array<{ title: string; ids: ReadonlyArray<string> }> = [
    { title: "Throughput (higher is better)", ids: ["create_rps", "consumer_rate", "relay_rate"] },
    { title: "Latency (lower is better)", ids: ["create_p50", "create_p99", "e2e_p50", "e2e_p95", "e2e_p99"] }
  ]
  const width = 900
  const labelW = 330
  const barMax = width - labelW - 150
  const rowH = 46
  let y = 40
  const parts: Array<string> = []
  for (const group of groups) {
    const rows = group.ids.map((id) => figures.find((f) => f.id === id)).filter((f) => f !== undefined)
    if (rows.length === 0) continue
    parts.push(`<text x="10" y="${y}" font-size="15" font-weight="bold">${escapeXml(group.title)}</text>`)
    y += 14
    for (const f of rows) {
      const d = digitsFor(f.unit)
      const ceiling = f.id === "relay_rate" ? 12_723 : undefined
      // Where the target sits on this row's scale (dashed orange line).
      const b = f.baseline?.median ?? Number.NaN
      const target: Record<string, number> = {
        create_rps: 0.5 * b,
        create_p99: 3 * b,
        consumer_rate: 0.6 * b,
        relay_rate: 0.5 * 12_723,
        e2e_p99: 50
      }
      const mark = target[f.id]
      const scale = Math.max(f.workstream.max, f.baseline?.max ?? 0, ceiling ?? 0, mark ?? 0) || 1
      const bar = (
        value: { median: number; min: number; max: number },
        offset: number,
        color: string,
        name: string
      ) => {
        const w = (value.median / scale) * barMax
        const x0 = labelW + (value.min / scale) * barMax
        const x1 = labelW + (value.max / scale) * barMax
        const cy = y + offset + 7
        return [
          `<rect x="${labelW}" y="${y + offset}" width="${w.toFixed(1)}" height="14" fill="${color}"/>`,
          `<line x1="${x0.toFixed(1)}" y1="${cy}" x2="${x1.toFixed(1)}" y2="${cy}" stroke="#222" stroke-width="1"/>`,
          `<line x1="${x0.toFixed(1)}" y1="${cy - 4}" x2="${x0.toFixed(1)}" y2="${cy + 4}" stroke="#222"/>`,
          `<line x1="${x1.toFixed(1)}" y1="${cy - 4}" x2="${x1.toFixed(1)}" y2="${cy + 4}" stroke="#222"/>`,
          `<text x="${(labelW + Math.max(w, x1 - labelW) + 6).toFixed(1)}" y="${y + offset + 11}" font-size="11">${escapeXml(`${name} ${num(value.median, d)} ${f.unit}`)}</text>`
        ].join("")
      }
      parts.push(
        `<text x="10" y="${y + 12}" font-size="12">${escapeXml(f.label.length > 52 ? `${f.label.slice(0, 50)}…` : f.label)}</text>`
      )
      parts.push(bar(f.workstream, 0, f.met === false ? "#d9534f" : "#3973ac", "Workstream"))
      if (f.baseline !== undefined) parts.push(bar(f.baseline, 17, "#a0a0a0", "baseline"))
      if (mark !== undefined && Number.isFinite(mark)) {
        const x = labelW + (mark / scale) * barMax
        parts.push(
          `<line x1="${x.toFixed(1)}" y1="${y - 2}" x2="${x.toFixed(1)}" y2="${y + 34}" stroke="#e08a00" stroke-width="1.5" stroke-dasharray="3,2"/>`,
          `<text x="${(x + 3).toFixed(1)}" y="${y + 42}" font-size="10" fill="#e08a00">target ${escapeXml(num(mark, digitsFor(f.unit)))}</text>`
        )
      }
      if (ceiling !== undefined) {
        parts.push(
          `<text x="10" y="${y + 26}" font-size="10" fill="#666">(target: half the 12,723 msg/s ceiling)</text>`
        )
      }
      y += rowH
    }
    y += 16
  }
  const legend = `<rect x="${labelW}" y="8" width="12" height="12" fill="#3973ac"/><text x="${labelW + 16}" y="18" font-size="11">Workstream (red: target missed)</text><rect x="${labelW + 210}" y="8" width="12" height="12" fill="#a0a0a0"/><text x="${labelW + 226}" y="18" font-size="11">baseline, same run</text><text x="${labelW + 350}" y="18" font-size="11">whiskers: min–max</text><line x1="${labelW + 460}" y1="8" x2="${labelW + 460}" y2="20" stroke="#e08a00" stroke-width="1.5" stroke-dasharray="3,2"/><text x="${labelW + 466}" y="18" font-size="11">target</text>`
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif"><title>Workstream beside each baseline: throughput and latency (docs/performance.md)</title><rect width="100%" height="100%" fill="white"/>${legend}${parts.join("\n")}</svg>\n`
}

/** The profiles' reading of the misses (bench/profile.ts); kept with the generator so a re-run keeps it. */
const ANALYSIS = readAnalysis()

function readAnalysis(): string {
  try {
    return `\n${readFileSync(join(ROOT, "bench", "analysis.md"), "utf8")}`
  } catch {
    return ""
  }
}

export const markdown = (output: Output): string => {
  const m = output.machine
  const rows = output.figures.map((f) => {
    const d = digitsFor(f.unit)
    const ws = `${num(f.workstream.median, d)} [${num(f.workstream.min, d)}–${num(f.workstream.max, d)}]`
    const base =
      f.baseline === undefined
        ? "—"
        : `${num(f.baseline.median, d)} [${num(f.baseline.min, d)}–${num(f.baseline.max, d)}]`
    const ratio = f.ratio === undefined ? "—" : num(f.ratio, 2)
    const met = f.met === undefined ? "—" : f.met ? "yes" : "**no**"
    return `| ${f.label} | ${f.unit} | ${ws} | ${base} | ${ratio} | ${f.target} | ${met} |`
  })
  const s = output.settings
  return `# Performance

Generated by \`pnpm bench\` (bench/run.ts) on ${output.generated_at}; the raw figures are in
[bench/results/latest.json](../bench/results/latest.json). Do not edit by hand: run \`pnpm bench\`
(or \`pnpm exec node bench/report.ts\` to re-render the JSON).

Machine: ${m.cores} x ${m.cpu}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; local PostgreSQL, RabbitMQ
and Redis shared with other work, so only ratios measured in one run are compared. Each figure is
the median of ${output.repetitions} runs, [min–max] beside it; the whole run took ${output.duration_s} s.

| figure | unit | Workstream median [min–max] | baseline median [min–max] | ratio | target | met? |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

Ratios are Workstream / baseline (for the relay: / the ${num(output.ceilings.publishBatchedConfirms)} msg/s
batched-confirm publish ceiling of the issue; the same publish measured in this run is shown as its
baseline).

![Throughput and latency, Workstream beside each baseline](performance.svg)

## Diagnostics of this run

${(output.diagnostics ?? []).map((d) => `- ${d}`).join("\n")}
${ANALYSIS}
## What each figure is

- **create**: autocannon, ${s.connections} connections, ${s.create_seconds} s per run after a warm-up of
  ${s.create_warmup_seconds ?? 3} s for each side, \`POST /api/v1/tasks\` through the multi-process system
  (\`pnpm start\` with DATABASE_URL, AMQP_URL, REDIS_URL, NOTIFICATION_STORE=memory: gateway -> gRPC
  -> tasks -> one Postgres transaction; the relay and notifications run too). Baseline, alternating
  run by run: \`bench/baseline-server.ts\`, a bare \`node:http\` server that parses and checks the
  same JSON and runs the same transaction (task row, outbox row, \`pg_notify\`) with a plain \`pg\`
  pool of the same size (10) on its own database with the same schema. Latencies are autocannon's.
- **RSS**: each service process's VmRSS right after each Workstream create run.
- **end-to-end**: on a second, fresh system (own database and vhost: an empty notification store, no
  backlog from the create runs), an open-loop generator sends ${s.e2e_rate} creates/s for ${s.e2e_seconds} s,
  after ${s.e2e_warmup_seconds ?? 0} s at the same rate that are not counted (a just-started system is still compiling
  its hot paths: the warm-up's own figures are in the diagnostics); for each 201, the notification
  record's \`received_at\` (read by event id from the debug API) minus the moment the client had the
  201 (one clock: same machine), as the issue defines it. The diagnostics also give it from the task's
  \`created_at\`, stamped before the transaction, which adds the create's own time.
- **consumer**: ${s.events} valid \`created\` events published into \`workstream.notifications\` (its
  real quorum-queue arguments) before the consumer starts; events/s from the first to the last
  consumed (the service: \`notifications_events_consumed_total\` polled every 100 ms; baseline:
  bare amqplib consumer, \`JSON.parse\`, ioredis \`SET NX EX\`, ack), both at prefetch ${s.prefetch}. The
  service's drain is cut after 40 s to keep the whole run under 10 minutes; its rate is then over the
  events it drained (see the diagnostics), which flatters it, since it slows as its store grows. The
  publish rate of the preload (confirms awaited per batch of 100) is the relay's same-run baseline.
- **relay**: ${s.events} unpublished rows inserted into a migrated database, then the tasks service
  started; events/s from the first to the last \`published_at\` (rows are marked after the broker
  confirmed their batch).
- **start-up**: wall time from spawning embedded \`pnpm start\` to its \`Ready in\` line.

## How to run

\`\`\`sh
pnpm bench               # everything, 3 runs each (about 8 minutes); writes bench/results/latest.json and this page
pnpm bench --quick       # one short run of each, results in the temp directory (this page is left alone)
pnpm bench --only=relay  # some of create,e2e,consumer,relay,startup (results in the temp directory)
pnpm bench --profile     # also --cpu-prof every service; then: pnpm exec node bench/profile.ts <dir> 30 <skip-s>
pnpm exec node bench/report.ts   # re-render this page from bench/results/latest.json
\`\`\`

It needs the local PostgreSQL, RabbitMQ and Redis (\`bash scripts/ensure-services.sh\`), creates a
database and a vhost per part (named \`bench_<id>_*\`) and drops them at the end, and deletes the
Redis keys its events created (the services' keys carry a 30-minute TTL, so even an interrupted
run leaves nothing for long).
`
}

export const writeReport = (output: Output) => {
  writeFileSync(join(ROOT, "docs", "performance.md"), markdown(output))
  writeFileSync(join(ROOT, "docs", "performance.svg"), chart(output.figures))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2] ?? join(ROOT, "bench", "results", "latest.json")
  writeReport(JSON.parse(readFileSync(file, "utf8")) as Output)
  process.stdout.write("wrote docs/performance.md and docs/performance.svg\n")
}
