/** Failures of the tasks service beyond the domain's own. */
import { Schema } from "effect"

/** The same idempotency key arrived with a different request (ALREADY_EXISTS, 409 at the gateway). */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()("IdempotencyKeyReused", {
  key: Schema.String
}) {
  override get message(): string {
    return "this idempotency key was already used with a different request"
  }
}

/** Postgres did not answer in time or failed: the caller may retry (UNAVAILABLE). */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  operation: Schema.String,
  cause: Schema.Defect()
}) {
  override get message(): string {
    return `the task store is unavailable (${this.operation})`
  }
}

/**
 * Too many creates are waiting for the store already: refused at once (RESOURCE_EXHAUSTED), so an
 * overloaded service sheds load instead of queueing creates into their deadlines. Not an outage:
 * the gateway neither retries it nor counts it toward opening its circuit.
 */
export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", {}) {
  override get message(): string {
    return "the tasks service has too many creates waiting, try again later"
  }
}

/** The store did not answer `operation` within its bound (DATABASE_TIMEOUT, or the call's deadline). */
export const storeTimedOut = (operation: string) => new StoreUnavailable({ operation, cause: "timed out" })

/** A page token the service did not issue. */
export class InvalidPageToken extends Schema.TaggedError<InvalidPageToken>()("InvalidPageToken", {}) {
  override get message(): string {
    return "page_token is not a token this service issued"
  }
}
