/**
 * Summarises V8 .cpuprofile files (from `pnpm bench --profile`, or `node --cpu-prof`): the top
 * functions by self time, per file, with their share of the samples.
 *   pnpm exec node bench/profile.ts <dir-or-file> [top=25] [skip-seconds=0]
 * skip-seconds leaves out the start of each profile (start-up: module loading), so the summary is
 * of the load. Also prints inclusive ("total") time of the project's own functions and Effect's.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"

interface Node {
  readonly id: number
  readonly callFrame: { functionName: string; url: string; lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const target = process.argv[2] ?? "."
const top = Number(process.argv[3] ?? 25)
const skipUs = Number(process.argv[4] ?? 0) * 1e6
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith(".cpuprofile"))
      .map((f) => join(target, f))
  : [target]

const short = (url: string) =>
  url
    .replace(/^file:\/\//, "")
    .replace(/.*\/node_modules\/\.pnpm\/[^/]+\/node_modules\//, "npm:")
    .replace(/.*\/packages\//, "packages/")

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parentOf = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
  const self = new Map<number, number>()
  const inclusive = new Map<string, number>()
  let clock = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    clock += dt
    if (clock < skipUs) return
    self.set(id, (self.get(id) ?? 0) + dt)
    const seen = new Set<string>()
    for (let n: number | undefined = id; n !== undefined; n = parentOf.get(n)) {
      const frame = byId.get(n)?.callFrame
      if (frame === undefined) continue
      const url = short(frame.url)
      if (!url.startsWith("packages/")) continue
      const key = `${frame.functionName || "(anonymous)"}  ${url}:${frame.lineNumber + 1}`
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + dt)
    }
  })
  // Shares are of the busy (non-idle) time, so a profile with idle stretches still reads right.
  let idle = 0
  for (const [id, us] of self) if (byId.get(id)?.callFrame.functionName === "(idle)") idle += us
  const all = [...self.values()].reduce((a, b) => a + b, 0)
  const total = all - idle
  const byFn = new Map<string, number>()
  const byPkg = new Map<string, number>()
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame
    if (frame === undefined || frame.functionName === "(idle)") continue
    const url = short(frame.url)
    const key = `${frame.functionName || "(anonymous)"}  ${url}:${frame.lineNumber + 1}`
    byFn.set(key, (byFn.get(key) ?? 0) + us)
    const pkg =
      url === ""
        ? frame.functionName
        : url.startsWith("npm:")
          ? url
              .split("/")
              .slice(0, url.startsWith("npm:@") ? 2 : 1)
              .join("/")
          : url.startsWith("packages/")
            ? url.split("/").slice(0, 2).join("/")
            : url.startsWith("node:")
              ? "node:*"
              : url
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us)
  }
  const print = (title: string, map: Map<string, number>, n: number) => {
    process.stdout.write(`  ${title}\n`)
    for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      process.stdout.write(
        `  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`
      )
    }
  }
  const main = profile.nodes.map((n) => n.callFrame.url).find((u) => /packages\/[a-z]+\/src\/(main|start)\.ts$/.test(u))
  process.stdout.write(
    `\n${file} (${main === undefined ? "?" : short(main)}): ${(all / 1e6).toFixed(1)} s sampled, ${(total / 1e6).toFixed(1)} s busy; shares are of busy time\n`
  )
  const category = new Map<string, number>()
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame
    if (frame === undefined || frame.functionName === "(idle)") continue
    const url = short(frame.url)
    const c =
      frame.functionName === "(garbage collector)"
        ? "GC"
        : url.startsWith("npm:effect/dist/internal/tracer") || url.includes("Tracer")
          ? "Effect tracing (spans)"
          : /npm:effect\/dist\/(Schema|internal\/schema)/.test(url)
            ? "Effect Schema"
            : /npm:effect\/dist\/(internal\/(effect|core)|Function|Context|Exit|Cause)/.test(url)
              ? "Effect runtime (fibers)"
              : url.startsWith("npm:effect/dist/sql") || url.startsWith("npm:@effect/sql")
                ? "Effect SQL + pg driver"
                : url.startsWith("npm:effect")
                  ? "Effect (other)"
                  : url.startsWith("npm:@grpc") || url.startsWith("npm:protobufjs") || url.startsWith("npm:@bufbuild")
                    ? "gRPC + protobuf"
                    : url.startsWith("npm:")
                      ? (url.split("/")[0] ?? url)
                      : url.startsWith("packages/")
                        ? "project code (self)"
                        : url.includes("node:internal/modules") || frame.functionName === "compileSourceTextModule"
                          ? "module loading"
                          : url.startsWith("node:")
                            ? "Node internals (JS)"
                            : `native: ${frame.functionName}`
    category.set(c, (category.get(c) ?? 0) + us)
  }
  print("self time by category", category, 14)
  print("self time by package/file", byPkg, 12)
  print("self time by function", byFn, top)
  print("total (inclusive) time of the project's functions", inclusive, top)
  // Who calls the heaviest functions: the 5 frames above them, by self time.
  for (const [name] of [...byFn]
    .filter(([k]) => !k.startsWith("("))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)) {
    const chains = new Map<string, number>()
    for (const [id, us] of self) {
      const frame = byId.get(id)?.callFrame
      if (
        frame === undefined ||
        `${frame.functionName || "(anonymous)"}  ${short(frame.url)}:${frame.lineNumber + 1}` !== name
      )
        continue
      const chain: Array<string> = []
      for (let n = parentOf.get(id); n !== undefined && chain.length < 6; n = parentOf.get(n)) {
        const f = byId.get(n)?.callFrame
        if (f !== undefined)
          chain.push(`${f.functionName || "(anon)"}@${short(f.url).split("/").pop()}:${f.lineNumber + 1}`)
      }
      const key = chain.join(" < ")
      chains.set(key, (chains.get(key) ?? 0) + us)
    }
    print(`callers of ${name}`, chains, 4)
  }
}
