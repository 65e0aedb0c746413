/** The gateway process: read the environment, serve the REST API until SIGTERM. */
import { ServiceMain } from "@workstream/platform"
import * as GatewayConfig from "./GatewayConfig.ts"
import * as GatewayServer from "./GatewayServer.ts"

ServiceMain.launch("gateway", { settings: GatewayConfig.load, layer: GatewayServer.layer })
