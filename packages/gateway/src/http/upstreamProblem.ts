/**
 * The one table from the tasks service's gRPC status codes to the REST API's problems. Only
 * the tasks service's own words for the caller's mistakes pass through (field problems,
 * transitions); everything else gets a fixed text, so no internal detail ever leaks.
 */
import { status } from "@grpc/grpc-js"
import {
  IdempotencyKeyReusedProblem,
  InvalidTransitionProblem,
  TaskNotFoundProblem,
  TimeoutProblem,
  UnavailableProblem,
  ValidationProblem
} from "../Api.ts"
import type { CircuitOpen } from "../grpc/CircuitBreaker.ts"
import type { UpstreamFailure } from "../grpc/TasksClient.ts"

export type UpstreamProblem =
  | ValidationProblem
  | TaskNotFoundProblem
  | InvalidTransitionProblem
  | IdempotencyKeyReusedProblem
  | UnavailableProblem
  | TimeoutProblem

export const toProblem = (error: UpstreamFailure | CircuitOpen): UpstreamProblem => {
  if (error._tag === "CircuitOpen")
    return new UnavailableProblem({ detail: "the tasks service is failing; retry later" })
  switch (error.code) {
    case status.INVALID_ARGUMENT:
      return new ValidationProblem({ errors: [{ path: "", message: error.details }] })
    case status.NOT_FOUND:
      return new TaskNotFoundProblem({})
    case status.FAILED_PRECONDITION:
      return new InvalidTransitionProblem({ detail: error.details })
    case status.ALREADY_EXISTS:
      return new IdempotencyKeyReusedProblem({})
    case status.DEADLINE_EXCEEDED:
      return new TimeoutProblem({})
    case status.RESOURCE_EXHAUSTED:
      return new UnavailableProblem({ detail: "the tasks service is overloaded; retry later" })
    default:
      // UNAVAILABLE, and anything unexpected (INTERNAL, UNKNOWN...): the caller can only retry.
      return new UnavailableProblem({})
  }
}
