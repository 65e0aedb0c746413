/**
 * Kubernetes manifests under infra/k8s, checked offline: each overlay renders with
 * `kubectl kustomize`, every object validates against the Kubernetes schemas, and the policies
 * hold that make a first `kubectl apply -k` work on a real cluster.
 */
import { readdirSync } from "node:fs"
import { SERVICE_NODE_OPTIONS } from "@workstream/system"
import { describe, expect, it } from "vitest"
import { runCreateSecretsOffline } from "./support/createSecrets.ts"
import {
  configMapsOf,
  containerEnvironment,
  deploymentsOf,
  ingressesOf,
  nameOf,
  preStopSeconds,
  secretKeyRefsOf,
  secretNamesOf,
  secretsOf,
  servicesOf,
  validateAgainstSchema,
  workloadsOf
} from "./support/kubernetes.ts"
import { fromRoot, renderKustomization } from "./support/repo.ts"
import { configProblems, drainSeconds, isServiceName, serviceNames } from "./support/services.ts"

const overlays = readdirSync(fromRoot("infra/k8s/overlays"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => `infra/k8s/overlays/${entry.name}`)
const renders = ["infra/k8s/base", ...overlays].map((dir) => ({ dir, objects: renderKustomization(dir) }))
const localOverlay = renders.find(({ dir }) => dir === "infra/k8s/overlays/local")?.objects ?? []

describe("kustomize", () => {
  it("has a local overlay", () => {
    expect(overlays).toContain("infra/k8s/overlays/local")
  })

  it.each(renders)("$dir renders objects that validate against the Kubernetes schemas", ({ objects }) => {
    expect(objects.length).toBeGreaterThan(0)
    for (const object of objects) validateAgainstSchema(object)
  })

  it.each(renders)("$dir commits no Secret (they are created on the cluster)", ({ objects }) => {
    expect(secretsOf(objects).map(nameOf)).toEqual([])
  })
})

describe.each(renders)("$dir", ({ objects }) => {
  const deployments = deploymentsOf(objects)
  const workloads = workloadsOf(objects)
  const services = servicesOf(objects)
  const configMaps = new Map(configMapsOf(objects).map((map) => [nameOf(map), map.data ?? {}]))

  it("has one Deployment and one Service per service", () => {
    expect(deployments.map(nameOf).sort()).toEqual([...serviceNames].sort())
    for (const name of serviceNames) expect(services.map(nameOf)).toContain(name)
  })

  it.each(deployments.map((deployment) => [nameOf(deployment), deployment] as const))(
    "Deployment %s: probes, resources, non-root, read-only, grace period",
    (name, deployment) => {
      const pod = deployment.spec?.template.spec
      expect(pod, name).toBeDefined()
      if (pod === undefined) return
      expect(pod.securityContext?.runAsNonRoot, `${name} runAsNonRoot`).toBe(true)
      // Numeric, as kubelet needs to verify runAsNonRoot; the image's USER is 1000 too.
      expect(pod.securityContext?.runAsUser, `${name} runAsUser`).toBeGreaterThan(0)
      for (const container of pod.containers) {
        const where = `${name}/${container.name}`
        const ports = new Map((container.ports ?? []).map((port) => [port.name, port.containerPort]))
        expect(container.readinessProbe?.httpGet?.path ?? container.readinessProbe?.grpc, `${where} readiness`).toEqual(
          container.readinessProbe?.grpc ?? "/readyz"
        )
        expect(container.livenessProbe?.httpGet?.path ?? container.livenessProbe?.grpc, `${where} liveness`).toEqual(
          container.livenessProbe?.grpc ?? "/healthz"
        )
        for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
          const port = probe?.httpGet?.port
          if (typeof port === "string") expect(ports.has(port), `${where} probe port ${port} is declared`).toBe(true)
        }
        expect(container.resources?.requests?.cpu, `${where} cpu request`).toBeDefined()
        expect(container.resources?.requests?.memory, `${where} memory request`).toBeDefined()
        expect(container.resources?.limits?.cpu, `${where} cpu limit`).toBeDefined()
        expect(container.resources?.limits?.memory, `${where} memory limit`).toBeDefined()
        expect(container.securityContext?.readOnlyRootFilesystem, `${where} read-only root`).toBe(true)
        expect(container.securityContext?.allowPrivilegeEscalation, `${where} no escalation`).toBe(false)
        expect(container.securityContext?.capabilities?.drop, `${where} drops capabilities`).toEqual(["ALL"])
        expect(container.securityContext?.runAsUser ?? 1000, `${where} not root`).not.toBe(0)
        expect(container.image, `${where} image has a pinned tag`).toMatch(/^[^:@]+(:[\w.-]+)$/)
        expect(container.image, `${where} image`).not.toMatch(/:latest$/)
        // The grace period covers the preStop pause plus the service's own drain.
        expect(pod.terminationGracePeriodSeconds ?? 30, `${where} grace period`).toBeGreaterThan(
          preStopSeconds(container) + drainSeconds
        )
      }
    }
  )

  it.each(deployments.map((deployment) => [nameOf(deployment), deployment] as const))(
    "Deployment %s provides every variable its service requires, with valid values",
    async (name, deployment) => {
      expect(isServiceName(name), `${name} is one of ${serviceNames.join(", ")}`).toBe(true)
      const container = deployment.spec?.template.spec?.containers[0]
      if (!isServiceName(name) || container === undefined) return
      const { env, missing } = containerEnvironment(container, configMaps)
      expect(missing, `${name}: references to nothing`).toEqual([])
      expect(await configProblems(name, env), `${name}: the service's config loader`).toEqual([])
    }
  )

  /** The value of `--<flag>=<n>` in a NODE_OPTIONS string. */
  const flagOf = (options: string, flag: string) => Number(new RegExp(`--${flag}=(\\d+)`).exec(options)?.[1])
  /** A Kubernetes memory quantity in MiB (only the units these manifests use). */
  const mebibytes = (quantity: string) => Number.parseInt(quantity, 10) * (quantity.endsWith("Gi") ? 1024 : 1)

  it.each(deployments.map((deployment) => [nameOf(deployment), deployment] as const))(
    "Deployment %s runs with its service's young generation and an old generation that fits its memory limit",
    (name, deployment) => {
      const container = deployment.spec?.template.spec?.containers[0]
      expect(isServiceName(name), `${name} is a service`).toBe(true)
      expect(container, `${name} has a container`).toBeDefined()
      if (!isServiceName(name) || container === undefined) return
      const options = containerEnvironment(container, configMaps).env.NODE_OPTIONS ?? ""
      const flag = "max-semi-space-size"
      expect(flagOf(options, flag)).toBe(flagOf(SERVICE_NODE_OPTIONS[name], flag))
      // V8 must feel heap pressure before the kernel kills the pod: the old generation, plus about
      // 128 MiB for the young generation, code, native memory and the Node binary's pages.
      const limit = mebibytes(String(container.resources?.limits?.memory ?? "0"))
      expect(flagOf(options, "max-old-space-size")).toBeLessThanOrEqual(limit - 128)
    }
  )

  it("points the gateway at the tasks Service's gRPC port", () => {
    const gateway = deployments.find((deployment) => nameOf(deployment) === "gateway")
    const container = gateway?.spec?.template.spec?.containers[0]
    expect(container).toBeDefined()
    if (container === undefined) return
    const target = containerEnvironment(container, configMaps).env.TASKS_GRPC_TARGET ?? ""
    const [host, port] = target.split(":")
    const tasks = services.find((service) => nameOf(service) === host)
    expect(tasks, `TASKS_GRPC_TARGET ${target} names a Service`).toBeDefined()
    expect(tasks?.spec?.ports?.map((servicePort) => servicePort.port)).toContain(Number(port))
  })

  it("has Services that each select exactly one workload, on ports its containers declare", () => {
    for (const service of services) {
      const selector = Object.entries(service.spec?.selector ?? {})
      expect(selector.length, `Service ${nameOf(service)} has a selector`).toBeGreaterThan(0)
      const selected = workloads.filter((workload) =>
        selector.every(([key, value]) => workload.podLabels[key] === value)
      )
      expect(
        selected.map((workload) => workload.name),
        `Service ${nameOf(service)}`
      ).toHaveLength(1)
      const declared = new Set(
        selected.flatMap((workload) =>
          workload.pod.containers.flatMap((container) =>
            (container.ports ?? []).flatMap((port) => [port.name, port.containerPort])
          )
        )
      )
      for (const port of service.spec?.ports ?? []) {
        expect(declared.has(port.targetPort ?? port.port), `Service ${nameOf(service)} port ${port.name}`).toBe(true)
      }
    }
  })

  it("has exactly one Ingress, and it routes only to the gateway Service", () => {
    const ingresses = ingressesOf(objects)
    expect(ingresses).toHaveLength(1)
    const [ingress] = ingresses
    const backends = [
      ingress?.spec?.defaultBackend,
      ...(ingress?.spec?.rules ?? []).flatMap((rule) => (rule.http?.paths ?? []).map((path) => path.backend))
    ].filter((backend) => backend !== undefined)
    expect(backends.length).toBeGreaterThan(0)
    const gatewayPorts = services
      .filter((service) => nameOf(service) === "gateway")
      .flatMap((service) => (service.spec?.ports ?? []).flatMap((port) => [port.name, port.port]))
    for (const backend of backends) {
      expect(backend.service?.name).toBe("gateway")
      expect(gatewayPorts).toContain(backend.service?.port?.name ?? backend.service?.port?.number)
    }
  })

  it("shares no volume and no Secret between workloads", () => {
    const claimOwners = new Map<string, Array<string>>()
    const secretOwners = new Map<string, Array<string>>()
    for (const workload of workloads) {
      for (const volume of workload.pod.volumes ?? []) {
        expect(volume.hostPath, `${workload.name} mounts no host path`).toBeUndefined()
        const claim = volume.persistentVolumeClaim?.claimName
        if (claim !== undefined) claimOwners.set(claim, [...(claimOwners.get(claim) ?? []), workload.name])
      }
      for (const secret of secretNamesOf(workload.pod)) {
        secretOwners.set(secret, [...(secretOwners.get(secret) ?? []), workload.name])
      }
    }
    for (const [claim, owners] of claimOwners) expect(owners, `claim ${claim}`).toHaveLength(1)
    for (const [secret, owners] of secretOwners) expect(owners, `Secret ${secret}`).toHaveLength(1)
  })
})

describe("infra/k8s/overlays/local", () => {
  const workloads = workloadsOf(localOverlay)

  it.each(["postgres", "mongo", "redis", "rabbitmq"])("runs %s as a StatefulSet with its own volume", (name) => {
    const workload = workloads.find((candidate) => candidate.name === name)
    expect(workload?.kind).toBe("StatefulSet")
    expect(workload?.claimTemplates.length).toBeGreaterThan(0)
    const mounted = workload?.pod.containers.flatMap((container) => container.volumeMounts ?? []) ?? []
    for (const claim of workload?.claimTemplates ?? []) {
      expect(mounted.map((mount) => mount.name)).toContain(claim)
    }
  })

  it("puts everything in one namespace and uses the locally built images", () => {
    for (const object of localOverlay) {
      if (isNamespaced(object)) expect(object.metadata?.namespace, describeObject(object)).toBe("workstream")
    }
    for (const deployment of deploymentsOf(localOverlay)) {
      for (const container of deployment.spec?.template.spec?.containers ?? []) {
        expect(container.image).toBe(`workstream/${nameOf(deployment)}:local`)
        // `kind load` / `k3d image import` put the image on the node; Always would try a registry.
        expect(container.imagePullPolicy).toBe("IfNotPresent")
      }
    }
  })

  it("gets from create-secrets.sh every Secret key it references, consistent with the databases", async () => {
    const secrets = runCreateSecretsOffline()
    const referenced = workloads.flatMap((workload) =>
      workload.pod.containers.flatMap((container) => secretKeyRefsOf(container))
    )
    expect(referenced.length).toBeGreaterThan(0)
    for (const { name, key } of referenced) {
      expect(secrets.get(name)?.[key], `create-secrets.sh sets ${name}/${key}`).toBeDefined()
    }
    // The URLs the services get carry the passwords the stateful dependencies start with.
    const password = (name: string) => secrets.get(name)?.password ?? "(none)"
    const tasks = secrets.get("tasks-secrets") ?? {}
    const notifications = secrets.get("notifications-secrets") ?? {}
    expect(new URL(tasks["database-url"] ?? "").password).toBe(password("postgres-credentials"))
    expect(new URL(tasks["amqp-url"] ?? "").password).toBe(password("rabbitmq-credentials"))
    expect(new URL(notifications["amqp-url"] ?? "").password).toBe(password("rabbitmq-credentials"))
    expect(new URL(notifications["redis-url"] ?? "").password).toBe(password("redis-credentials"))
    expect(new URL(notifications["mongo-url"] ?? "").password).toBe(password("mongo-credentials"))
    // ...and name hosts that are Services of the overlay.
    const serviceNamesInOverlay = servicesOf(localOverlay).map(nameOf)
    for (const url of [...Object.values(tasks), ...Object.values(notifications)]) {
      expect(serviceNamesInOverlay).toContain(new URL(url).hostname)
    }
    // With the real secret values the services' config loaders are satisfied too.
    const configMaps = new Map(configMapsOf(localOverlay).map((map) => [nameOf(map), map.data ?? {}]))
    for (const deployment of deploymentsOf(localOverlay)) {
      const name = nameOf(deployment)
      const container = deployment.spec?.template.spec?.containers[0]
      if (!isServiceName(name) || container === undefined) continue
      const { env } = containerEnvironment(container, configMaps)
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef
        if (ref !== undefined) env[variable.name] = secrets.get(ref.name ?? "")?.[ref.key] ?? ""
      }
      expect(await configProblems(name, env), name).toEqual([])
    }
  })
})

const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"])
interface ObjectHeader {
  readonly kind: string
  readonly metadata?: { readonly name?: string; readonly namespace?: string }
}
const isNamespaced = (object: unknown): object is ObjectHeader =>
  typeof object === "object" && object !== null && "kind" in object && !clusterScoped.has(String(object.kind))
const describeObject = (object: ObjectHeader) => `${object.kind} ${object.metadata?.name ?? ""}`
