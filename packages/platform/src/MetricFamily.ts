/**
 * A metric labelled per update, such as a request counter by route and status, without
 * `Metric.withAttributes`: that wraps the metric so each update copies the fiber's whole Context
 * to carry the attributes (1 us and about 4 KB of garbage per update in a service's fiber, twice a
 * request). A metric built with its attributes costs a look-up in the registry instead. Each
 * attribute set gets its metric on first use, so keep the values few (route templates, not paths).
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
