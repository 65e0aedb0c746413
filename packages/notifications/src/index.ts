/** @workstream/notifications: the record store and dedupe store ports with their adapters , the consumer and the service. */
export * from "./dedupe/DedupeStore.ts"
export * from "./dedupe/memory.ts"
export * from "./dedupe/redis.ts"
export * as NotificationsConfig from "./NotificationsConfig.ts"
export * as NotificationsServer from "./NotificationsServer.ts"
export * from "./store/memory.ts"
export * from "./store/mongo.ts"
export * from "./store/NotificationRecords.ts"
