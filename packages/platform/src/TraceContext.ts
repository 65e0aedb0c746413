/**
 * W3C trace context as it crosses process boundaries (HTTP headers, gRPC metadata, AMQP
 * headers). Until OpenTelemetry spans carry it, this is what links a request to its event.
 */
import { randomBytes } from "node:crypto"
import { Tracer } from "effect"

export interface TraceContext {
  readonly traceparent?: string
  readonly tracestate?: string
}

// version-traceid-parentid-flags, lowercase hex; all-zero ids are invalid (W3C §3.2.2).
const TRACEPARENT = /^00-((?!0{32})[0-9a-f]{32})-((?!0{16})[0-9a-f]{16})-[0-9a-f]{2}$/

/** The trace id of a valid `traceparent`, or undefined for anything else (which is then ignored). */
export const traceIdOf = (traceparent: string | undefined): string | undefined =>
  traceparent === undefined ? undefined : TRACEPARENT.exec(traceparent.trim())?.[1]

/**
 * A `tracestate` worth forwarding (W3C: printable ASCII, at most 512 characters), or undefined.
 * Checked at every edge: an oversized one would make the event's AMQP headers unencodable.
 */
export const validTracestate = (value: string | undefined): string | undefined =>
  value !== undefined && value.length <= 512 && /^[\x20-\x7e]*$/.test(value) ? value : undefined

export const newTraceId = (): string => randomBytes(16).toString("hex")
export const newSpanId = (): string => randomBytes(8).toString("hex")

/** The trace a unit of work belongs to: always has a trace id, so every event can carry one. */
export interface ActiveTrace {
  readonly trace_id: string
  readonly traceparent: string
  readonly tracestate?: string
}

/** Continues a valid incoming context, or starts a new trace when there is none (or it is malformed). */
export const continueOrStart = (incoming: TraceContext): ActiveTrace => {
  const traceparent = incoming.traceparent?.trim()
  const trace_id = traceIdOf(traceparent)
  if (trace_id !== undefined && traceparent !== undefined) {
    return { trace_id, traceparent, ...(incoming.tracestate === undefined ? {} : { tracestate: incoming.tracestate }) }
  }
  const fresh = newTraceId()
  return { trace_id: fresh, traceparent: `00-${fresh}-${newSpanId()}-01` }
}

/** The parent span a valid incoming `traceparent` names, for continuing that trace in this process. */
export const parentOf = (traceparent: string | undefined) => {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim())
  return match?.[1] === undefined || match[2] === undefined
    ? undefined
    : Tracer.externalSpan({ traceId: match[1], spanId: match[2], sampled: traceparent?.trim().endsWith("01") ?? true })
}

/** The W3C header of a span: how this process's trace continues in the next hop. */
export const traceparentOf = (span: { readonly traceId: string; readonly spanId: string }): string =>
  `00-${span.traceId}-${span.spanId}-01`
