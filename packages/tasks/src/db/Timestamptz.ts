/**
 * `timestamptz` values: instants go to Postgres as text and come back as the driver's `Date`, exact to
 * the millisecond over Postgres' whole range (4714 BC to 294276 AD, as far as a JS Date reaches).
 */
import { DateTime, Schema, SchemaGetter } from "effect"

// Why text and not a Date parameter: @effect/sql-pg 4.0.5 binds a Date as binary microseconds computed as
// `ms * 1000` in floating point, which is inexact past 2^53 µs (after about 2255): 7820-12-18T00:08:11.425Z
// was stored as ...11.424992 and read back as ...11.424. The server parses text exactly.
const pad = (n: number, width: number) => String(n).padStart(width, "0")

/** Postgres' own input format, `BC` included: ISO 8601 has no year 0 or negative years Postgres accepts. */
export const toText = (at: DateTime.Utc): string => {
  const date = DateTime.toDateUtc(at)
  const year = date.getUTCFullYear()
  const era = year <= 0 ? " BC" : ""
  return (
    `${pad(year <= 0 ? 1 - year : year, 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)} ` +
    `${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}.` +
    `${pad(date.getUTCMilliseconds(), 3)}+00${era}`
  )
}

/**
 * A `timestamptz` column as `DateTime.Utc`. Decodes the driver's `Date` (an invalid one, Postgres'
 * `infinity`, fails); encodes to the text above. Strings decode too, so the codec is total both ways.
 */
export const Timestamptz = Schema.Union([Schema.Date, Schema.String]).pipe(
  Schema.decodeTo(Schema.DateTimeUtc, {
    decode: SchemaGetter.dateTimeUtcFromInput(),
    encode: SchemaGetter.transform(toText)
  })
)
