/** Reading rendered Kubernetes objects: schema validation and the views the policy tests need. */
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1"
import { Ingress } from "kubernetes-models/networking.k8s.io/v1"
import { ConfigMap, Namespace, Secret, Service } from "kubernetes-models/v1"
import type { IContainer } from "kubernetes-models/v1/Container"
import type { IPodSpec } from "kubernetes-models/v1/PodSpec"
import { isRecord } from "./repo.ts"
import { secretPlaceholder } from "./services.ts"

/**
 * Validates one object against the Kubernetes OpenAPI schema of its kind (types, required fields,
 * enums). Throws naming the object; a kind without a validator here is an error too, so a new
 * kind of object cannot slip through unchecked.
 */
export const validateAgainstSchema = (object: unknown): void => {
  const model = modelOf(object)
  if (model === undefined) {
    const kind = isRecord(object) ? `${String(object.apiVersion)} ${String(object.kind)}` : typeof object
    throw new Error(`no schema validator for ${kind}: add its model to test/support/kubernetes.ts`)
  }
  model.validate()
}

const modelOf = (object: unknown): { validate(): void } | undefined => {
  if (Deployment.is(object)) return new Deployment(object)
  if (StatefulSet.is(object)) return new StatefulSet(object)
  if (Service.is(object)) return new Service(object)
  if (ConfigMap.is(object)) return new ConfigMap(object)
  if (Secret.is(object)) return new Secret(object)
  if (Namespace.is(object)) return new Namespace(object)
  if (Ingress.is(object)) return new Ingress(object)
  return undefined
}

export const nameOf = (object: { readonly metadata?: { readonly name?: string } }): string =>
  object.metadata?.name ?? "(unnamed)"

/** A Deployment or StatefulSet, reduced to what the policies look at. */
export interface Workload {
  readonly kind: "Deployment" | "StatefulSet"
  readonly name: string
  readonly podLabels: Readonly<Record<string, string>>
  readonly pod: IPodSpec
  readonly claimTemplates: ReadonlyArray<string>
}

export const workloadsOf = (objects: ReadonlyArray<unknown>): Array<Workload> =>
  objects.flatMap((object): Array<Workload> => {
    if (Deployment.is(object) || StatefulSet.is(object)) {
      const pod = object.spec?.template.spec
      if (pod === undefined) throw new Error(`${object.kind} ${nameOf(object)} has no pod spec`)
      const claimTemplates = StatefulSet.is(object)
        ? (object.spec?.volumeClaimTemplates ?? []).map((claim) => claim.metadata?.name ?? "")
        : []
      return [
        {
          kind: object.kind,
          name: nameOf(object),
          podLabels: object.spec?.template.metadata?.labels ?? {},
          pod,
          claimTemplates
        }
      ]
    }
    return []
  })

export const deploymentsOf = (objects: ReadonlyArray<unknown>) => objects.filter((object) => Deployment.is(object))
export const servicesOf = (objects: ReadonlyArray<unknown>) => objects.filter((object) => Service.is(object))
export const ingressesOf = (objects: ReadonlyArray<unknown>) => objects.filter((object) => Ingress.is(object))
export const configMapsOf = (objects: ReadonlyArray<unknown>) => objects.filter((object) => ConfigMap.is(object))
export const secretsOf = (objects: ReadonlyArray<unknown>) => objects.filter((object) => Secret.is(object))

/** Every Secret a pod reads, through env, envFrom or a volume. */
export const secretNamesOf = (pod: IPodSpec): Set<string> => {
  const names = new Set<string>()
  for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
    for (const variable of container.env ?? []) {
      const name = variable.valueFrom?.secretKeyRef?.name
      if (name !== undefined) names.add(name)
    }
    for (const source of container.envFrom ?? []) {
      if (source.secretRef?.name !== undefined) names.add(source.secretRef.name)
    }
  }
  for (const volume of pod.volumes ?? []) {
    if (volume.secret?.secretName !== undefined) names.add(volume.secret.secretName)
  }
  return names
}

/** Every (Secret, key) pair a container reads one by one. */
export const secretKeyRefsOf = (container: IContainer): Array<{ readonly name: string; readonly key: string }> =>
  (container.env ?? []).flatMap((variable) => {
    const ref = variable.valueFrom?.secretKeyRef
    return ref === undefined ? [] : [{ name: ref.name ?? "", key: ref.key }]
  })

/**
 * The environment a container starts with: its ConfigMaps' data, then its own `env` (which wins,
 * as in Kubernetes). Values from Secrets are placeholders; `missing` lists references that point
 * at nothing in the render.
 */
export const containerEnvironment = (
  container: IContainer,
  configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>
): { readonly env: Record<string, string>; readonly missing: Array<string> } => {
  const env: Record<string, string> = {}
  const missing: Array<string> = []
  for (const source of container.envFrom ?? []) {
    const mapName = source.configMapRef?.name
    if (mapName === undefined) continue
    const data = configMaps.get(mapName)
    if (data === undefined) missing.push(`ConfigMap ${mapName}`)
    else Object.assign(env, data)
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value
    else if (variable.valueFrom?.secretKeyRef !== undefined) env[variable.name] = secretPlaceholder(variable.name)
    else if (variable.valueFrom?.configMapKeyRef !== undefined) {
      const { name = "", key } = variable.valueFrom.configMapKeyRef
      const value = configMaps.get(name)?.[key]
      if (value === undefined) missing.push(`ConfigMap ${name} key ${key}`)
      else env[variable.name] = value
    }
  }
  return { env, missing }
}

/** The seconds a `preStop: exec: sleep N` hook holds the container before SIGTERM (0 without one). */
export const preStopSeconds = (container: IContainer): number => {
  const command = container.lifecycle?.preStop?.exec?.command ?? []
  return command[0] === "sleep" && command[1] !== undefined ? Number(command[1]) : 0
}
