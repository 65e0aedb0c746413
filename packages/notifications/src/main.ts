/** The notifications service process: read the environment, consume and serve until SIGTERM. */
import { ServiceMain } from "@workstream/platform"
import * as NotificationsConfig from "./NotificationsConfig.ts"
import * as NotificationsServer from "./NotificationsServer.ts"

ServiceMain.launch("notifications", { settings: NotificationsConfig.load, layer: NotificationsServer.layer })
