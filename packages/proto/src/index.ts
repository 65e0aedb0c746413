/**
 * @workstream/proto: the generated TasksService stubs, shared by the gateway (client) and tasks
 * (server), and the client of gRPC's standard health protocol the gateway asks tasks with.
 */
import type { CallOptions, ClientUnaryCall, Metadata, ServiceError } from "@grpc/grpc-js"

export * from "./gen/workstream/tasks/v1/tasks.ts"

/** Where the contract's source lives, for server reflection. */
export const TASKS_PROTO_PATH = new URL("../../../proto/workstream/tasks/v1/tasks.proto", import.meta.url).pathname
export * as DomainMapping from "./domain.ts"
export * as Health from "./gen/grpc/health/v1/health.ts"

/** A generated client's unary method, as grpc-js types it: what callers wrap into Effects. */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void
) => ClientUnaryCall
