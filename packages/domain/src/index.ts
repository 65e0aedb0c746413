/** @workstream/domain: the pure model every service shares. */
export * from "./errors.ts"
export * as Ids from "./Ids.ts"
export * as Lifecycle from "./Lifecycle.ts"
export * from "./Task.ts"
export * as TaskCommand from "./TaskCommand.ts"
export * from "./TaskEvent.ts"
