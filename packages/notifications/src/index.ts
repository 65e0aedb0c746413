/** @workstream/notifications: the record store and dedupe store ports with their adapters (the consumer is still to come). */
export * from "./dedupe/DedupeStore.ts"
export * from "./dedupe/memory.ts"
export * from "./dedupe/redis.ts"
export * from "./store/memory.ts"
export * from "./store/mongo.ts"
export * from "./store/NotificationRecords.ts"
