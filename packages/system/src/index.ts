export { SERVICE_NODE_OPTIONS } from "./MultiProcess.ts"
