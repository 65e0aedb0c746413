/** Where the deployment files live, and small readers shared by the deployment tests. */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { parse, parseAllDocuments } from "yaml"

export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url))
export const fromRoot = (path: string): string => `${repoRoot}${path}`
export const readText = (path: string): string => readFileSync(fromRoot(path), "utf8")
export const readYaml = (path: string): unknown => parse(readText(path))

/** `kubectl kustomize <dir>`: the objects a `kubectl apply -k` of that directory would send. */
export const renderKustomization = (dir: string): Array<unknown> => {
  const rendered = execFileSync("kubectl", ["kustomize", fromRoot(dir)], { encoding: "utf8" })
  return parseAllDocuments(rendered).map((document) => document.toJS())
}

export type Json = Record<string, unknown>

export const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Reads a nested field of parsed YAML, failing the test with the path when the shape is wrong. */
export const record = (value: unknown, where: string): Json => {
  if (!isRecord(value)) throw new Error(`${where}: expected a mapping`)
  return value
}

export const list = (value: unknown, where: string): Array<unknown> => {
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list`)
  return value
}

export const text = (value: unknown, where: string): string => {
  if (typeof value !== "string") throw new Error(`${where}: expected a string`)
  return value
}
