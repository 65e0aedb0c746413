/**
 * Observability, checked offline: the Grafana dashboard charts only metrics the services define,
 * Prometheus scrapes the three services where their manifests say /metrics is, the observability
 * profile of the compose stack runs pinned images wired to each other, and every Deployment carries
 * the scrape annotations for its metrics port.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join, posix } from "node:path"
import { describe, expect, it } from "vitest"
import { environmentOf, loadCompose, parseEnvFile } from "./support/compose.ts"
import { configMapsOf, containerEnvironment, deploymentsOf, nameOf } from "./support/kubernetes.ts"
import { fromRoot, isRecord, list, readText, readYaml, record, renderKustomization, text } from "./support/repo.ts"
import { serviceNames } from "./support/services.ts"

type Kind = "counter" | "gauge" | "histogram"

/** Every `Metric.counter("name")`, `Metric.gauge("name")` and `Metric.histogram("name")` in packages/\*\/src. */
const metricsInSource = (): Map<string, Kind> => {
  const found = new Map<string, Kind>()
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory() && entry.name !== "node_modules") walk(path)
      else if (entry.isFile() && entry.name.endsWith(".ts")) {
        const source = readFileSync(path, "utf8")
        for (const [, kind, name] of source.matchAll(/Metric\.(counter|gauge|histogram)\(\s*"([a-zA-Z_:][\w:]*)"/g)) {
          if (name !== undefined && (kind === "counter" || kind === "gauge" || kind === "histogram")) {
            found.set(name, kind)
          }
        }
      }
    }
  }
  for (const pkg of readdirSync(fromRoot("packages"), { withFileTypes: true })) {
    const src = fromRoot(`packages/${pkg.name}/src`)
    if (pkg.isDirectory() && existsSync(src)) walk(src)
  }
  return found
}

/** The series names Prometheus exposes for each metric: a histogram as `_bucket`, `_sum` and `_count`. */
const seriesOf = (metrics: ReadonlyMap<string, Kind>): Set<string> =>
  new Set(
    [...metrics].flatMap(([name, kind]) =>
      kind === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name]
    )
  )

const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"])
const PROMQL_WORDS_ALWAYS = new Set(["and", "or", "unless", "inf", "nan"])

/** The metric (series) names a PromQL expression selects: identifiers that are not calls, keywords or labels. */
const metricNamesIn = (expr: string): Array<string> => {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{?\w+\}?/g, " ")
  return [...stripped.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?/g)]
    .filter(([, name, call]) => name !== undefined && call === undefined && !PROMQL_WORDS.has(name))
    .map(([, name]) => name ?? "")
    .filter((name) => !PROMQL_WORDS_ALWAYS.has(name.toLowerCase()))
}

const dashboardPath = "infra/observability/grafana/dashboards/workstream.json"
const dashboard = record(JSON.parse(readText(dashboardPath)), dashboardPath)

interface Panel {
  readonly title: string
  readonly datasourceUid: string | undefined
  readonly exprs: ReadonlyArray<string>
}

/** Every panel that shows data, rows' nested panels included. */
const panelsOf = (panels: unknown): Array<Panel> =>
  list(panels ?? [], "panels").flatMap((value): Array<Panel> => {
    const panel = record(value, "panel")
    if (panel.type === "row") return panelsOf(panel.panels)
    const datasource = isRecord(panel.datasource) ? panel.datasource : {}
    return [
      {
        title: text(panel.title, "panel.title"),
        datasourceUid: typeof datasource.uid === "string" ? datasource.uid : undefined,
        exprs: list(panel.targets ?? [], `${String(panel.title)}.targets`).map((target) =>
          text(record(target, "target").expr, `${String(panel.title)}.targets[].expr`)
        )
      }
    ]
  })

const panels = panelsOf(dashboard.panels)
const allExprs = panels.flatMap((panel) => panel.exprs)
const usedSeries = new Set(allExprs.flatMap(metricNamesIn))

const example = parseEnvFile(readText("infra/compose/.env.example"))
const { compose, services } = loadCompose(example)
const serviceOf = (name: string): Record<string, unknown> => services.get(name) ?? {}
const composeHttpPort = (name: string): number => Number(environmentOf(serviceOf(name)).HTTP_PORT)

/** A compose `configs` entry mounted into `service` at `target`: the repository path of its file. */
const configFileAt = (service: string, target: string): string => {
  const mounts = list(serviceOf(service).configs ?? [], `${service}.configs`).map((mount) => record(mount, "config"))
  const mount = mounts.find((entry) => entry.target === target)
  if (mount === undefined) throw new Error(`${service} mounts no config at ${target}`)
  const source = record(record(compose.configs, "configs")[text(mount.source, "source")], `configs.${mount.source}`)
  return posix.normalize(posix.join("infra/compose", text(source.file, "file")))
}

/** The uid of the provisioned Prometheus data source. */
const prometheusDatasourceUid = (): unknown => {
  const file = configFileAt("grafana", "/etc/grafana/provisioning/datasources/workstream.yaml")
  const datasources = list(record(readYaml(file), file).datasources, "datasources").map((ds) => record(ds, "ds"))
  return datasources.find((ds) => ds.type === "prometheus")?.uid
}

const OBSERVABILITY = ["otel-collector", "jaeger", "prometheus", "grafana"]

describe("PromQL metric names (the test's own reader)", () => {
  it("finds the selected series and nothing else", () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (le, route) (rate(a_seconds_bucket{status=~"5..", x="b_total"}[5m]))) / on (job) group_left b_total and c'
      )
    ).toEqual(["a_seconds_bucket", "b_total", "c"])
  })
})

describe(dashboardPath, () => {
  const defined = metricsInSource()
  const known = seriesOf(defined)

  it("finds the metrics the services define in their source", () => {
    for (const name of ["http_server_duration_seconds", "rpc_server_calls_total", "notifications_in_flight"]) {
      expect([...defined.keys()], name).toContain(name)
    }
  })

  it("is a Grafana dashboard with panels that each query Prometheus", () => {
    expect(dashboard.uid).toBeTypeOf("string")
    expect(dashboard.title).toBeTypeOf("string")
    expect(panels.length).toBeGreaterThan(0)
    for (const panel of panels) {
      expect(panel.exprs.length, `${panel.title} has a query`).toBeGreaterThan(0)
      expect(panel.datasourceUid, `${panel.title}'s data source`).toBe(prometheusDatasourceUid())
    }
  })

  it.each(panels.map((panel) => [panel.title, panel] as const))(
    "%s queries only metrics the services define",
    (_, panel) => {
      for (const expr of panel.exprs) {
        const names = metricNamesIn(expr)
        expect(names.length, expr).toBeGreaterThan(0)
        for (const name of names) expect(known.has(name), `${name} in ${expr}`).toBe(true)
      }
    }
  )

  it("charts latency, throughput, errors, the outbox, the consumer and the runtime", () => {
    for (const series of [
      "http_server_duration_seconds_bucket",
      "rpc_server_duration_seconds_bucket",
      "http_server_requests_total",
      "rpc_server_calls_total",
      "outbox_pending_rows",
      "outbox_oldest_pending_age_seconds",
      "notifications_events_consumed_total",
      "notifications_queue_depth",
      "notifications_dedupe_hits_total",
      "notifications_processing_seconds_bucket",
      "notifications_in_flight",
      "nodejs_eventloop_delay_p99_seconds",
      "nodejs_heap_used_bytes",
      "process_resident_memory_bytes"
    ]) {
      expect([...usedSeries], series).toContain(series)
    }
    for (const [histogram, label] of [
      ["http_server_duration_seconds_bucket", "route"],
      ["rpc_server_duration_seconds_bucket", "method"]
    ] as const) {
      for (const quantile of ["0.5", "0.95", "0.99"]) {
        const found = allExprs.some(
          (expr) => expr.includes(`histogram_quantile(${quantile},`) && expr.includes(histogram) && expr.includes(label)
        )
        expect(found, `p${Number(quantile) * 100} of ${histogram} by ${label}`).toBe(true)
      }
    }
    expect(allExprs.some((expr) => expr.includes('status=~"5.."'))).toBe(true)
    expect(allExprs.some((expr) => expr.includes('code!="OK"'))).toBe(true)
    for (const queue of ["workstream.notifications", "workstream.notifications.dlq"]) {
      expect(
        allExprs.some((expr) => expr.includes(`queue="${queue}"`)),
        queue
      ).toBe(true)
    }
  })
})

describe("Grafana provisioning", () => {
  it("points the Prometheus data source at the prometheus compose service", () => {
    const file = configFileAt("grafana", "/etc/grafana/provisioning/datasources/workstream.yaml")
    const datasources = list(record(readYaml(file), file).datasources, "datasources").map((ds) => record(ds, "ds"))
    const prometheus = datasources.find((ds) => ds.type === "prometheus")
    expect(new URL(text(prometheus?.url, "url")).host).toBe("prometheus:9090")
    expect(prometheus?.isDefault).toBe(true)
  })

  it("loads the dashboard from where compose mounts it", () => {
    const file = configFileAt("grafana", "/etc/grafana/provisioning/dashboards/workstream.yaml")
    const providers = list(record(readYaml(file), file).providers, "providers").map((p) => record(p, "provider"))
    const paths = providers.map((provider) => text(record(provider.options, "options").path, "path"))
    const mounted = "/etc/grafana/dashboards/workstream.json"
    expect(configFileAt("grafana", mounted)).toBe(dashboardPath)
    expect(paths).toContain(dirname(mounted))
  })
})

describe("infra/observability/prometheus.yml", () => {
  const config = record(readYaml("infra/observability/prometheus.yml"), "prometheus.yml")
  const jobs = list(config.scrape_configs, "scrape_configs").map((job) => record(job, "scrape_config"))

  it("is the file the prometheus container runs with", () => {
    const command = list(serviceOf("prometheus").command, "prometheus.command").map(String)
    const flag = command.find((arg) => arg.startsWith("--config.file="))
    expect(flag).toBeDefined()
    expect(configFileAt("prometheus", (flag ?? "").slice("--config.file=".length))).toBe(
      "infra/observability/prometheus.yml"
    )
  })

  it("scrapes each of the three services, as its own job, on the HTTP port compose gives it", () => {
    expect(jobs.map((job) => job.job_name).sort()).toEqual([...serviceNames].sort())
    for (const job of jobs) {
      const name = text(job.job_name, "job_name")
      expect(job.metrics_path ?? "/metrics", name).toBe("/metrics")
      const targets = list(job.static_configs, `${name}.static_configs`).flatMap((group) =>
        list(record(group, "static_config").targets, `${name}.targets`).map(String)
      )
      expect(targets, name).toEqual([`${name}:${composeHttpPort(name)}`])
      expect(services.has(name), `${name} is a compose service`).toBe(true)
    }
  })
})

describe("compose profile observability", () => {
  const profiled = [...services].filter(([, service]) => list(service.profiles ?? [], "profiles").length > 0)

  it("holds exactly the collector, Jaeger, Prometheus and Grafana", () => {
    expect(profiled.map(([name]) => name).sort()).toEqual([...OBSERVABILITY].sort())
    for (const [name, service] of profiled) expect(service.profiles, name).toEqual(["observability"])
  })

  it.each(OBSERVABILITY)("%s runs an image pinned to an exact version", (name) => {
    const image = text(serviceOf(name).image, `${name}.image`)
    expect(image).toMatch(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*:v?\d+\.\d+\.\d+$/)
  })

  it.each(OBSERVABILITY)("%s publishes its ports on 127.0.0.1 only", (name) => {
    for (const port of list(serviceOf(name).ports ?? [], `${name}.ports`))
      expect(String(port)).toMatch(/^127\.0\.0\.1:/)
  })

  it("opens the Jaeger UI on 16686, Prometheus on 9090 and Grafana on 3000, Grafana to anonymous viewers", () => {
    expect(serviceOf("jaeger").ports).toContain("127.0.0.1:16686:16686")
    expect(serviceOf("prometheus").ports).toContain("127.0.0.1:9090:9090")
    expect(serviceOf("grafana").ports).toContain("127.0.0.1:3000:3000")
    const grafana = environmentOf(serviceOf("grafana"))
    expect(grafana.GF_AUTH_ANONYMOUS_ENABLED).toBe("true")
    expect(grafana.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe("Viewer")
  })

  it("mounts only configuration files that exist in the repository", () => {
    for (const [name, service] of profiled) {
      for (const mount of list(service.configs ?? [], `${name}.configs`)) {
        const file = configFileAt(name, text(record(mount, "mount").target, "target"))
        expect(existsSync(fromRoot(file)), `${name}: ${file}`).toBe(true)
      }
    }
  })

  it("sends the services' traces over OTLP/HTTP to the collector, and the collector's to Jaeger", () => {
    const collectorConfig = configFileAt("otel-collector", "/etc/otelcol-contrib/config.yaml")
    expect(list(serviceOf("otel-collector").command, "command")).toContain("--config=/etc/otelcol-contrib/config.yaml")
    const otel = record(readYaml(collectorConfig), collectorConfig)
    const protocols = record(record(record(otel.receivers, "receivers").otlp, "otlp").protocols, "protocols")
    expect(text(record(protocols.http, "http").endpoint, "http.endpoint")).toMatch(/:4318$/)
    expect(text(record(protocols.grpc, "grpc").endpoint, "grpc.endpoint")).toMatch(/:4317$/)

    for (const name of serviceNames) {
      const endpoint = new URL(environmentOf(serviceOf(name)).OTEL_EXPORTER_OTLP_ENDPOINT ?? "")
      expect(endpoint.host, name).toBe("otel-collector:4318")
      expect(endpoint.protocol, name).toBe("http:")
    }

    const traces = record(record(record(otel.service, "service").pipelines, "pipelines").traces, "traces")
    expect(traces.receivers).toContain("otlp")
    const exporters = record(otel.exporters, "exporters")
    const targets = list(traces.exporters, "traces.exporters").map((exporter) =>
      text(record(exporters[text(exporter, "exporter")], `exporters.${exporter}`).endpoint, "endpoint")
    )
    expect(targets).toContain("jaeger:4317")
  })
})

describe("infra/k8s/base Deployments", () => {
  const objects = renderKustomization("infra/k8s/base")
  const configMaps = new Map(configMapsOf(objects).map((map) => [nameOf(map), map.data ?? {}]))
  const deployments = deploymentsOf(objects)

  it("are the three services", () => {
    expect(deployments.map(nameOf).sort()).toEqual([...serviceNames].sort())
  })

  it.each(deployments.map((deployment) => [nameOf(deployment), deployment] as const))(
    "%s: the pod template asks Prometheus to scrape /metrics on its HTTP port",
    (name, deployment) => {
      const annotations = deployment.spec?.template.metadata?.annotations ?? {}
      expect(annotations["prometheus.io/scrape"]).toBe("true")
      expect(annotations["prometheus.io/path"]).toBe("/metrics")
      const container = deployment.spec?.template.spec?.containers[0]
      const http = container?.ports?.find((port) => port.name === "http")
      expect(http, `${name} declares a port named http`).toBeDefined()
      expect(annotations["prometheus.io/port"]).toBe(String(http?.containerPort))
      if (container === undefined) return
      expect(containerEnvironment(container, configMaps).env.HTTP_PORT, `${name} HTTP_PORT`).toBe(
        annotations["prometheus.io/port"]
      )
      expect(composeHttpPort(name), `${name}: same port in compose`).toBe(Number(annotations["prometheus.io/port"]))
    }
  )
})
