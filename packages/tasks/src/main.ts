/** The tasks service process: read the environment, run the service until SIGTERM. */
import { ServiceMain } from "@workstream/platform"
import { TasksConfig } from "./TasksConfig.ts"
import * as TasksServer from "./TasksServer.ts"

ServiceMain.launch("tasks", { settings: TasksConfig.settings, layer: TasksServer.layer })
