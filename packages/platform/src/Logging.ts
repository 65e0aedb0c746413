/**
 * One JSON object per log line, with the fields DESIGN §7 names: service, level, msg,
 * request_id, trace_id, span_id, plus any log annotations. Trace ids come from the current
 * span, so a line logged inside a traced request carries that request's trace.
 */
import { Cause, Context, Layer, Logger, type LogLevel, References, Tracer } from "effect"

/** One message part as text; never throws (BigInt, cycles), and errors keep their message. */
const partText = (part: unknown): string => {
  if (typeof part === "string") return part
  if (part instanceof Error) return `${part.name}: ${part.message}`
  try {
    return JSON.stringify(part) ?? String(part)
  } catch {
    return String(part)
  }
}

const messageText = (message: unknown): string => (Array.isArray(message) ? message : [message]).map(partText).join(" ")

/** The formatter alone: one JSON text per log record. */
export const formatJson = (service: string) =>
  Logger.make(({ message, logLevel, cause, fiber, date }) => {
    const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
    const line: Record<string, unknown> = {
      time: date.toISOString(),
      level: logLevel.toLowerCase(),
      service,
      msg: messageText(message),
      ...fiber.getRef(References.CurrentLogAnnotations)
    }
    if (span !== undefined) {
      line.trace_id = span.traceId
      line.span_id = span.spanId
    }
    if (cause.reasons.length > 0) line.error = Cause.pretty(cause)
    return JSON.stringify(line)
  })

export const jsonLogger = (service: string) => formatJson(service).pipe(Logger.withConsoleLog)

/** Replaces Effect's default logger with JSON lines at the given minimum level. */
export const layer = (options: { readonly service: string; readonly level: LogLevel.LogLevel }) =>
  Layer.mergeAll(Logger.layer([jsonLogger(options.service)]), Layer.succeed(References.MinimumLogLevel, options.level))
