/**
 * Reading infra/compose/compose.yaml as Docker Compose would: variables interpolated from an env
 * file (`${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `$$` for a literal `$`).
 */
import { parse } from "yaml"
import { isRecord, readText, record } from "./repo.ts"

/** Parses a dotenv file: `NAME=value` lines, comments and blank lines ignored. */
export const parseEnvFile = (source: string): Record<string, string> =>
  Object.fromEntries(
    source
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => {
        const at = line.indexOf("=")
        return [line.slice(0, at), line.slice(at + 1)]
      })
  )

const reference = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g

/** Interpolates one string; a `${NAME:?message}` whose variable is unset throws, as Compose stops. */
export const interpolate = (value: string, variables: Readonly<Record<string, string>>): string =>
  value.replace(reference, (match, braced?: string, operator?: string, argument?: string, bare?: string) => {
    if (match === "$$") return "$"
    const name = braced ?? bare ?? ""
    const current = variables[name]
    const unsetOrEmpty = current === undefined || current === ""
    switch (operator) {
      case ":-":
        return unsetOrEmpty ? (argument ?? "") : current
      case "-":
        return current ?? argument ?? ""
      case ":?":
      case "?":
        if (operator === ":?" ? unsetOrEmpty : current === undefined) throw new Error(`${name}: ${argument}`)
        return current ?? ""
      default:
        return current ?? ""
    }
  })

const interpolateDeep = (value: unknown, variables: Readonly<Record<string, string>>): unknown => {
  if (typeof value === "string") return interpolate(value, variables)
  if (Array.isArray(value)) return value.map((item) => interpolateDeep(item, variables))
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateDeep(item, variables)]))
  }
  return value
}

export const composePath = "infra/compose/compose.yaml"

/** The compose file as Compose would see it with `variables` as its .env file. */
export const loadCompose = (variables: Readonly<Record<string, string>>) => {
  const compose = record(interpolateDeep(parse(readText(composePath)), variables), composePath)
  const services = record(compose.services, "services")
  return {
    compose,
    services: new Map(Object.entries(services).map(([name, service]) => [name, record(service, name)]))
  }
}

/** A service's `environment`, written either as a mapping or as a list of NAME=value. */
export const environmentOf = (service: Record<string, unknown>): Record<string, string> => {
  const environment = service.environment ?? {}
  if (Array.isArray(environment)) return parseEnvFile(environment.map(String).join("\n"))
  return Object.fromEntries(Object.entries(record(environment, "environment")).map(([key, v]) => [key, String(v)]))
}
