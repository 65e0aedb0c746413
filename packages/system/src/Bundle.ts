/**
 * Each service as a JavaScript bundle (an entry module, plus chunks it loads on demand), built by
 * rolldown before the multi-process mode starts it and in the image. A service process then
 * neither strips types at run time (Node's swc WebAssembly: 18 MB of RSS per process) nor holds
 * every module it imports as written: Node keeps each module's source in memory, and effect's
 * alone is 14.6 MB, more than half of it JSDoc. A bundle holds the code a service reaches, without
 * comments: about 45 MB less RSS per service (bench/analysis.md). `pnpm dev` in a package, the
 * tests and the embedded mode still run the TypeScript as it is.
 */
import { fileURLToPath } from "node:url"

/** The services, in the order the multi-process mode starts them. */
export const SERVICES = ["tasks", "notifications", "gateway"] as const
export type Service = (typeof SERVICES)[number]

/**
 * Left to Node, each a dependency of every service whose code imports it: packages that find their
 * own files through `__dirname`, which means nothing inside a bundle (the .proto files of the gRPC
 * packages, ioredis' error stacks), and mongodb, whose optional native add-ons are not installed.
 * `test/bundle.test.ts` holds every bundle to this.
 */
export const EXTERNAL = ["@grpc/grpc-js", "@grpc/reflection", "grpc-health-check", "ioredis", "mongodb"]
const external = (id: string) =>
  id.startsWith("node:") || EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`))

const packageDir = (service: Service) => fileURLToPath(new URL(`../../${service}/`, import.meta.url))

/** A service's entry points besides `main`: the operator commands its package runs with `pnpm`. */
const COMMANDS: Record<Service, ReadonlyArray<string>> = {
  tasks: ["migrate"],
  notifications: ["dlqReplay"],
  gateway: []
}

/**
 * The bundle of a service. It sits as deep in the repository as `src/main.ts`, so paths its code
 * builds from `import.meta.url` (the gRPC contract's, TASKS_PROTO_PATH) point where they do in `src`.
 */
export const mainOf = (service: Service) => `${packageDir(service)}dist/main.mjs`

/**
 * Builds the bundles of the given services side by side (well under a second each), by default
 * where `mainOf` says. The directory is not emptied first: chunk names carry their content's hash,
 * so a service started from an earlier build can still load its chunks on demand.
 */
export const bundle = async (
  services: ReadonlyArray<Service>,
  outDir: (service: Service) => string = (service) => `${packageDir(service)}dist`
): Promise<void> => {
  // Loaded only to bundle: the embedded mode imports this module's neighbours, not rolldown (20 MB).
  const { build } = await import("rolldown")
  await Promise.all(
    services.map((service) =>
      build({
        input: Object.fromEntries(
          ["main", ...COMMANDS[service]].map((entry) => [entry, `${packageDir(service)}src/${entry}.ts`])
        ),
        platform: "node",
        external,
        logLevel: "warn",
        output: {
          dir: outDir(service),
          entryFileNames: "[name].mjs",
          chunkFileNames: "[name]-[hash].mjs",
          format: "esm",
          comments: false,
          // Stack traces map back to the TypeScript with NODE_OPTIONS=--enable-source-maps; the
          // maps need not carry the sources for that.
          sourcemap: true,
          sourcemapExcludeSources: true
        }
      })
    )
  )
}
