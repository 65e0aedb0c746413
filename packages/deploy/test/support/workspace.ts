/** The workspace packages a service needs at run time, read from the package manifests. */
import { readdirSync } from "node:fs"
import { fromRoot, readText, record } from "./repo.ts"

const manifests = new Map(
  readdirSync(fromRoot("packages"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => {
      const manifest = record(JSON.parse(readText(`packages/${entry.name}/package.json`)), entry.name)
      return [String(manifest.name), { dir: entry.name, dependencies: record(manifest.dependencies ?? {}, "deps") }]
    })
)

/** Directory names under packages/ of `@workstream/<service>` and its production workspace dependencies. */
export const productionClosure = (service: string): Array<string> => {
  const found = new Set<string>()
  const visit = (name: string): void => {
    const manifest = manifests.get(name)
    if (manifest === undefined || found.has(manifest.dir)) return
    found.add(manifest.dir)
    for (const [dependency, version] of Object.entries(manifest.dependencies)) {
      if (String(version).startsWith("workspace:")) visit(dependency)
    }
  }
  visit(`@workstream/${service}`)
  return [...found].sort()
}

export const workspacePackageDirs = (): Array<string> => [...manifests.values()].map(({ dir }) => dir).sort()
