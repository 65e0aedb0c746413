/** @workstream/gateway: the REST API, as Layers for the process and for tests. */
export * as GatewayConfig from "./GatewayConfig.ts"
export * as GatewayServer from "./GatewayServer.ts"
