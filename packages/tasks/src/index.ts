/** @workstream/tasks: the tasks service, as Layers for its process, the embedded mode and tests. */
export * as TasksConfig from "./TasksConfig.ts"
export * as TasksServer from "./TasksServer.ts"
