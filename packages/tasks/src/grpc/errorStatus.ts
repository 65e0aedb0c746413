/**
 * The one table from failures to gRPC status codes (DESIGN §4). Messages are written for the
 * caller: field problems for INVALID_ARGUMENT, never SQL or internal detail.
 */
import { status } from "@grpc/grpc-js"
import type { DomainError } from "@workstream/domain"
import type { IdempotencyKeyReused, InvalidPageToken, Overloaded, StoreUnavailable } from "../errors.ts"

export type ServiceError = DomainError | IdempotencyKeyReused | InvalidPageToken | StoreUnavailable | Overloaded

export interface GrpcFailure {
  readonly code: status
  readonly details: string
}

export const toGrpcFailure = (error: ServiceError): GrpcFailure => {
  switch (error._tag) {
    case "ValidationError":
      return { code: status.INVALID_ARGUMENT, details: error.message }
    case "InvalidPageToken":
      return { code: status.INVALID_ARGUMENT, details: `page_token: ${error.message}` }
    case "TaskNotFound":
      return { code: status.NOT_FOUND, details: error.message }
    case "InvalidTransition":
      return { code: status.FAILED_PRECONDITION, details: error.message }
    case "IdempotencyKeyReused":
      return { code: status.ALREADY_EXISTS, details: error.message }
    case "StoreUnavailable":
      return { code: status.UNAVAILABLE, details: "the tasks store is unavailable, try again" }
    case "Overloaded":
      return { code: status.RESOURCE_EXHAUSTED, details: error.message }
  }
}
