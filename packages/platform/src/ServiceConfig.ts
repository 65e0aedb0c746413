/**
 * Reading a service's configuration once at start. Effect's Config stops at the first bad
 * value; an operator wants every bad variable named at once, so each is read on its own and
 * the failures are gathered into one message.
 */
import { Config, Duration, Effect, LogLevel, Schema, SchemaIssue } from "effect"

export class ConfigInvalid extends Schema.TaggedError<ConfigInvalid>()("ConfigInvalid", {
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `invalid configuration: ${this.problems.join("; ")}`
  }
}

type Values<C extends Record<string, Config.Config<unknown>>> = {
  -readonly [K in keyof C]: C[K] extends Config.Config<infer A> ? A : never
}

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

// One line per bad variable, named as the operator sets it: "DATABASE_URL: missing".
// The offending value is left out on purpose: it may be a secret.
const describe = (error: Config.ConfigError): Array<string> => {
  // A SourceError means the provider itself failed (not one variable): report it whole.
  if (!Schema.isSchemaError(error.cause)) return [error.message]
  return standard(error.cause.issue).issues.map(({ path, message }) => {
    const name = (path ?? []).map((segment) => String(typeof segment === "object" ? segment.key : segment)).join(".")
    // An absent variable reaches the schema as `undefined`, which reads "Expected string".
    return `${name}: ${message === "Expected string" ? "missing" : message.toLowerCase()}`
  })
}

/** Reads every entry; fails with one ConfigInvalid naming every variable that is missing or malformed. */
export const load = <const C extends Record<string, Config.Config<unknown>>>(
  configs: C
): Effect.Effect<Values<C>, ConfigInvalid> =>
  Effect.gen(function* () {
    const values: Record<string, unknown> = {}
    const problems: Array<string> = []
    for (const [key, config] of Object.entries(configs)) {
      const result = yield* Effect.result(config)
      if (result._tag === "Success") values[key] = result.success
      else problems.push(...describe(result.failure))
    }
    if (problems.length > 0) return yield* new ConfigInvalid({ problems })
    // Every key of `configs` was read with its own Config, so the record has the promised shape.
    return values as Values<C>
  })

/**
 * Reads several groups of settings (a service's and the trace export's, say) in one pass: one
 * ConfigInvalid names the bad variables of all of them, each once.
 */
export const all = <const T extends ReadonlyArray<Effect.Effect<unknown, ConfigInvalid>>>(
  loads: T
): Effect.Effect<{ -readonly [K in keyof T]: Effect.Success<T[K]> }, ConfigInvalid> =>
  Effect.gen(function* () {
    const results = yield* Effect.forEach(loads, Effect.result)
    const problems = [
      ...new Set(results.flatMap((result) => (result._tag === "Failure" ? result.failure.problems : [])))
    ]
    if (problems.length > 0) return yield* new ConfigInvalid({ problems })
    // No failure among them: each result is its load's success, in order.
    return results.map((result) => (result._tag === "Success" ? result.success : undefined)) as {
      -readonly [K in keyof T]: Effect.Success<T[K]>
    }
  })

/** A TCP port with a default, e.g. `port("GRPC_PORT", 50051)`. */
export const port = (name: string, fallback: number): Config.Config<number> =>
  Config.Port(name).pipe(Config.withDefault(fallback))

/** A required URL kept redacted in logs, e.g. `secretUrl("DATABASE_URL")`. */
export const secretUrl = (name: string) => Config.Redacted(name)

const LOG_LEVELS = new Map(LogLevel.values.map((level) => [level.toLowerCase(), level]))

/** Effect's level names in any case: `debug`, `Debug` and `DEBUG` all mean Debug. */
export const logLevel = Config.schema(
  Schema.String.check(
    Schema.makeFilter((name: string) =>
      LOG_LEVELS.has(name.toLowerCase()) ? undefined : `expected one of ${LogLevel.values.join(", ")}`
    )
  ),
  "LOG_LEVEL"
).pipe(
  Config.map((name): LogLevel.LogLevel => LOG_LEVELS.get(name.toLowerCase()) ?? "Info"),
  Config.withDefault<LogLevel.LogLevel>("Info")
)

/** A whole number of at least `min` (e.g. a batch size: 0 would make a relay spin). */
export const intAtLeast = (name: string, min: number, fallback: number): Config.Config<number> =>
  Config.schema(Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(min)), name).pipe(
    Config.withDefault(fallback)
  )

/** A whole number from `min` to `max` (e.g. a batch size that must fit a statement's parameters). */
export const intBetween = (name: string, min: number, max: number, fallback: number): Config.Config<number> =>
  Config.schema(
    Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(min), Schema.isLessThanOrEqualTo(max)),
    name
  ).pipe(Config.withDefault(fallback))

/** A duration longer than zero, written like `5 seconds` or `250 millis`. */
export const positiveDuration = (name: string, fallback: Duration.Duration): Config.Config<Duration.Duration> =>
  Config.schema(
    Schema.DurationFromString.check(
      Schema.makeFilter((d: Duration.Duration) => (Duration.isZero(d) ? "must be longer than zero" : undefined))
    ),
    name
  ).pipe(Config.withDefault(fallback))
