/**
 * The Docker Compose stack, checked offline: the file parses, every container has a health check
 * and waits for what it needs to be healthy, only the gateway is published, data lives in named
 * volumes of their own, and each service gets every variable its config loader requires.
 */
import { existsSync } from "node:fs"
import { SERVICE_NODE_OPTIONS } from "@workstream/system"
import { describe, expect, it } from "vitest"
import { composePath, environmentOf, interpolate, loadCompose, parseEnvFile } from "./support/compose.ts"
import { fromRoot, list, readText, record, text } from "./support/repo.ts"
import { configProblems, drainSeconds, isServiceName, serviceNames } from "./support/services.ts"

const example = parseEnvFile(readText("infra/compose/.env.example"))
const { compose, services } = loadCompose(example)
const stateful = ["postgres", "mongo", "redis", "rabbitmq"]
const appServices = [...services.keys()].filter(isServiceName)
/** What `docker compose up` starts without `--profile`: the system itself (the observability profile: observability.test.ts). */
const defaultServices = [...services].filter(([, service]) => service.profiles === undefined).map(([name]) => name)
/**
 * Images with no shell and no client to run a health check with (FROM scratch). Each is listed
 * here on purpose, with nothing that waits for it to be healthy (a test checks).
 */
const noHealthcheckPossible = ["otel-collector"]
const checkable = [...services.keys()].filter((name) => !noHealthcheckPossible.includes(name))
const serviceOf = (name: string): Record<string, unknown> => services.get(name) ?? {}

const urlOf = (service: string, variable: string): URL => new URL(environmentOf(serviceOf(service))[variable] ?? "")

/** Compose durations such as `30s`, `1m30s` or `500ms`, in seconds. */
const seconds = (duration: string): number =>
  [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)].reduce(
    (total, [, amount, unit]) =>
      total + Number(amount) * (unit === "ms" ? 0.001 : unit === "m" ? 60 : unit === "h" ? 3600 : 1),
    0
  )

describe(composePath, () => {
  it("runs the three services and their four dependencies", () => {
    expect([...defaultServices].sort()).toEqual([...serviceNames, ...stateful].sort())
  })

  it("refuses to start without the secrets of infra/compose/.env", () => {
    expect(() => loadCompose({})).toThrow(/PASSWORD/)
  })

  it("keeps the real .env out of git and documents every variable it uses in .env.example", () => {
    expect(readText("infra/compose/.gitignore").split("\n")).toContain(".env")
    const used = [...readText(composePath).matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map(([, name]) => name)
    for (const name of new Set(used)) expect(Object.keys(example), `${name} in .env.example`).toContain(name)
  })

  it.each(checkable)("%s has a health check", (name) => {
    const healthcheck = record(services.get(name)?.healthcheck, `${name}.healthcheck`)
    expect(healthcheck.disable).not.toBe(true)
    const test = list(healthcheck.test, `${name}.healthcheck.test`)
    expect(["CMD", "CMD-SHELL"]).toContain(test[0])
    expect(test.length).toBeGreaterThan(1)
  })

  it.each(noHealthcheckPossible)("%s, without a health check, is what no service waits for", (name) => {
    expect(services.has(name), `${name} is a compose service`).toBe(true)
    for (const [dependent, service] of services) {
      expect(Object.keys(record(service.depends_on ?? {}, `${dependent}.depends_on`)), dependent).not.toContain(name)
    }
  })

  it.each([...services.keys()])("%s waits for what it depends on to be healthy", (name) => {
    const dependsOn = services.get(name)?.depends_on ?? {}
    for (const [dependency, condition] of Object.entries(record(dependsOn, `${name}.depends_on`))) {
      expect(services.has(dependency), `${name} depends on ${dependency}`).toBe(true)
      expect(record(condition, `${name}.depends_on.${dependency}`).condition).toBe("service_healthy")
    }
  })

  it("publishes only the gateway on every interface; developer UIs on 127.0.0.1 only; databases never", () => {
    for (const [name, service] of services) {
      for (const port of list(service.ports ?? [], `${name}.ports`)) {
        const published = text(port, `${name}.ports`)
        if (name === "gateway") continue
        expect(published, `${name} publishes ${published}`).toMatch(/^127\.0\.0\.1:/)
      }
    }
    expect(services.get("gateway")?.ports).toEqual(["8080:8080"])
    for (const name of ["postgres", "mongo", "redis"]) expect(services.get(name)?.ports, name).toBeUndefined()
  })

  it("keeps each dependency's data in a named volume of its own", () => {
    const declared = Object.keys(record(compose.volumes, "volumes"))
    const owners = new Map<string, string>()
    for (const [name, service] of services) {
      for (const mount of list(service.volumes ?? [], `${name}.volumes`)) {
        const source = text(mount, `${name}.volumes`).split(":")[0] ?? ""
        expect(declared, `${name} mounts the named volume ${source}`).toContain(source)
        expect(owners.get(source), `volume ${source} is shared`).toBeUndefined()
        owners.set(source, name)
      }
    }
    for (const name of stateful) expect([...owners.values()], `${name} has a volume`).toContain(name)
  })

  it("pins every image to an exact version", () => {
    for (const [name, service] of services) {
      const image = text(service.image, `${name}.image`)
      if (isServiceName(name)) expect(image).toBe(`workstream/${name}:local`)
      // repository[/name...]:[v]major.minor[.patch][-variant]: never `latest`, never a floating major.
      else expect(image, name).toMatch(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*:v?\d+\.\d+(\.\d+)?(-[a-z]+)?$/)
    }
  })

  it.each(appServices)("%s is built from the Dockerfile with its name as SERVICE", (name) => {
    const service = serviceOf(name)
    const build = record(service.build, `${name}.build`)
    const context = new URL(`${text(build.context, "context")}/`, new URL(`file://${fromRoot("infra/compose/")}`))
    expect(context.pathname).toBe(fromRoot(""))
    expect(existsSync(fromRoot(text(build.dockerfile, "dockerfile")))).toBe(true)
    expect(record(build.args, `${name}.build.args`).SERVICE).toBe(name)
  })

  it.each(appServices)("%s runs hardened and stops within its grace period", (name) => {
    const service = serviceOf(name)
    expect(service.read_only, `${name} read_only`).toBe(true)
    expect(service.cap_drop, `${name} cap_drop`).toEqual(["ALL"])
    expect(seconds(text(service.stop_grace_period ?? "10s", "stop_grace_period"))).toBeGreaterThan(drainSeconds)
  })

  it.each(appServices)("%s gets every variable its config loader requires, with valid values", async (name) => {
    expect(await configProblems(name, environmentOf(serviceOf(name)))).toEqual([])
  })

  it.each(appServices)(
    "%s runs with the heap bounds `pnpm start` gives it (the image's default, or its own)",
    (name) => {
      if (!isServiceName(name)) return
      const own = environmentOf(serviceOf(name)).NODE_OPTIONS
      // The image's default is the gateway's bounds (image.test.ts); a service with others sets them.
      expect(own ?? SERVICE_NODE_OPTIONS.gateway).toBe(SERVICE_NODE_OPTIONS[name])
    }
  )

  it("connects each service to the dependency containers with the credentials they start with", () => {
    const postgres = environmentOf(serviceOf("postgres"))
    const database = urlOf("tasks", "DATABASE_URL")
    expect(database.hostname).toBe("postgres")
    expect(database.username).toBe(postgres.POSTGRES_USER)
    expect(database.password).toBe(postgres.POSTGRES_PASSWORD)
    expect(database.pathname).toBe(`/${postgres.POSTGRES_DB}`)

    const rabbitmq = environmentOf(serviceOf("rabbitmq"))
    for (const service of ["tasks", "notifications"]) {
      const amqp = urlOf(service, "AMQP_URL")
      expect(amqp.hostname).toBe("rabbitmq")
      expect(amqp.username).toBe(rabbitmq.RABBITMQ_DEFAULT_USER)
      expect(amqp.password).toBe(rabbitmq.RABBITMQ_DEFAULT_PASS)
    }

    const mongo = environmentOf(serviceOf("mongo"))
    const mongoUrl = urlOf("notifications", "MONGO_URL")
    expect(mongoUrl.hostname).toBe("mongo")
    expect(mongoUrl.username).toBe(mongo.MONGO_INITDB_ROOT_USERNAME)
    expect(mongoUrl.password).toBe(mongo.MONGO_INITDB_ROOT_PASSWORD)

    const redis = urlOf("notifications", "REDIS_URL")
    expect(redis.hostname).toBe("redis")
    expect(redis.password).toBe(environmentOf(serviceOf("redis")).REDISCLI_AUTH)
    expect(services.get("redis")?.command).toContain(redis.password)

    const [host, port] = (environmentOf(serviceOf("gateway")).TASKS_GRPC_TARGET ?? "").split(":")
    expect(host).toBe("tasks")
    expect(port).toBe(environmentOf(serviceOf("tasks")).GRPC_PORT)
  })
})

describe("compose interpolation (the test's own reader)", () => {
  // Compose's `${...}` syntax, on purpose in plain strings.
  it("follows Compose's rules for defaults, required values and $$", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose syntax under test
    expect(interpolate("${A:-x}-${B-y}-$$C-$A", { A: "a" })).toBe("a-y-$C-a")
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose syntax under test
    expect(interpolate("${A:-x}", { A: "" })).toBe("x")
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose syntax under test
    expect(() => interpolate("${A:?needed}", {})).toThrow("A: needed")
  })
})
