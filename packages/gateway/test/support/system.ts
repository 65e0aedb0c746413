/** The gateway in front of a real tasks service on the local Postgres and RabbitMQ. */
import { TasksUnderTest } from "@workstream/tasks/testing"
import { Effect, Layer } from "effect"
import type { GatewaySettings } from "../../src/GatewayConfig.ts"
import { GatewayUnderTest, gatewaySettings, startGateway } from "./gateway.ts"

export const layerWith = (overrides: Partial<GatewaySettings> = {}) =>
  Layer.effect(
    GatewayUnderTest,
    Effect.gen(function* () {
      const tasks = yield* TasksUnderTest
      const tasksTarget = `127.0.0.1:${tasks.settings.grpcPort}`
      const url = yield* startGateway(yield* gatewaySettings(tasksTarget, overrides))
      return { url, tasksTarget, databaseUrl: tasks.databaseUrl }
    })
  ).pipe(Layer.provide(TasksUnderTest.layer))
