/**
 * The services' bundles (what the multi-process mode runs), checked as files: everything they
 * leave to Node must be found from the service's own package, and no bundled code may look for
 * files next to itself. A bundle that breaks either starts, and fails later, on a rarer path.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { isBuiltin } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bundle, EXTERNAL, SERVICES as services } from "../src/Bundle.ts"

// `ws` asks for these native speed-ups inside a try/catch and works without them.
const OPTIONAL = ["bufferutil", "utf-8-validate"]

const scratch = mkdtempSync(join(tmpdir(), "workstream-bundles-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
beforeAll(() => bundle(services, (service) => join(scratch, service)), 60_000)

/** The code of a service's bundle: its entry and the chunks it loads. */
const codeOf = (service: string) =>
  readdirSync(join(scratch, service))
    .filter((file) => /\.m?js$/.test(file))
    .map((file) => readFileSync(join(scratch, service, file), "utf8"))
    .join("\n")

/** Bare module names a bundle leaves to Node: static and dynamic imports, and CommonJS requires. */
const importsOf = (code: string) => {
  const names = new Set<string>()
  for (const [, spec] of code.matchAll(/(?:^import[^"\n]*from |^import |\bimport\(|\b__require\()"([^"]+)"/gm)) {
    if (spec === undefined || spec.startsWith(".") || isBuiltin(spec)) continue
    names.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] ?? spec))
  }
  return [...names].sort()
}

describe("the services' bundles", () => {
  it.each(services)("%s: leaves to Node only its own dependencies", (service) => {
    const manifest = JSON.parse(readFileSync(new URL(`../../${service}/package.json`, import.meta.url), "utf8"))
    const declared = Object.keys(manifest.dependencies ?? {})
    const imports = importsOf(codeOf(service))
    expect(imports.filter((name) => !OPTIONAL.includes(name))).toEqual(
      imports.filter((name) => EXTERNAL.includes(name) && declared.includes(name))
    )
    // The split is real: the rest, effect included, is inside the bundle.
    expect(imports).not.toContain("effect")
  })

  it.each(services)("%s: has no code that looks for files next to itself", (service) => {
    // Rolldown's own `typeof __filename === "string" ? ... : import.meta.url` is safe; a bare use is not.
    const bare = codeOf(service).replaceAll('typeof __filename === "string" ? __filename', "")
    expect(bare.match(/\b__(dirname|filename)\b/g) ?? []).toEqual([])
  })
})
