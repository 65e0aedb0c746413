/**
 * A metric labelled per update, such as a request counter by route and status, without
 * `Metric.withAttributes`: that wraps the metric so each update adds the attributes to the fiber's
 * Context, which copies the whole Context once it is several layers deep, as a service's request
 * fiber is (1 us and about 4 KB of garbage per update there, twice a request), and the shared
 * metric recomputes its series key whenever the attributes differ from the last update's. A metric
 * built with its attributes keeps its key; what is left is this family's look-up and the
 * registry's. Each attribute set gets its metric on first use, so keep the values few (route
 * templates, not paths). Attributes a fiber sets with `Metric.CurrentMetricAttributes` win over
 * these; nothing here sets them.
 */
import type { Metric } from "effect"

export const of = <Attributes extends Readonly<Record<string, string>>, M extends Metric.Metric<never, unknown>>(
  make: (attributes: Attributes) => M
): ((attributes: Attributes) => M) => {
  const members = new Map<string, M>()
  return (attributes) => {
    // Two orders of the same keys make two members of one series: the registry sorts them.
    const key = JSON.stringify(attributes)
    let member = members.get(key)
    if (member === undefined) {
      member = make(attributes)
      members.set(key, member)
    }
    return member
  }
}

/** Bucket bounds of every latency histogram, in seconds (1 ms to 5 s): services' latencies compare bucket by bucket. */
export const latencySeconds: ReadonlyArray<number> = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5
]
