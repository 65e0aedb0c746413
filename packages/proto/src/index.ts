/** @workstream/proto: the generated TasksService stubs, shared by the gateway (client) and tasks (server). */
export * from "./gen/workstream/tasks/v1/tasks.ts"

/** Where the contract's source lives, for server reflection. */
export const TASKS_PROTO_PATH = new URL("../../../proto/workstream/tasks/v1/tasks.proto", import.meta.url).pathname
export * as DomainMapping from "./domain.ts"
