/** @workstream/notifications: the record store port and its adapters (the consumer is still to come). */
export * from "./store/memory.ts"
export * from "./store/mongo.ts"
export * from "./store/NotificationRecords.ts"
