/** @workstream/platform: infrastructure every service shares. */
export * as AmqpConnection from "./AmqpConnection.ts"
export * as EventPublisher from "./EventPublisher.ts"
export * as Health from "./Health.ts"
export * as Logging from "./Logging.ts"
export * as ServiceConfig from "./ServiceConfig.ts"
export * as ServiceMain from "./ServiceMain.ts"
export * as Topology from "./Topology.ts"
export * as TraceContext from "./TraceContext.ts"
