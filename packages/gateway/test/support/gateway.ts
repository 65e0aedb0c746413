/** Runs the gateway in this process against a tasks service target, on a free port. */
import { freePort } from "@workstream/tasks/testing"
import { Context, Duration, Effect, Layer } from "effect"
import type { GatewaySettings } from "../../src/GatewayConfig.ts"
import * as GatewayServer from "../../src/GatewayServer.ts"

export const gatewaySettings = (tasksTarget: string, overrides: Partial<GatewaySettings> = {}) =>
  Effect.gen(function* () {
    const settings: GatewaySettings = {
      tasksTarget,
      httpPort: yield* freePort,
      logLevel: "Warn",
      tasksDeadline: Duration.seconds(3),
      tasksRetries: 3,
      breakerThreshold: 5,
      breakerCooldown: Duration.seconds(5),
      maxBodyBytes: 1024 * 1024
    }
    return { ...settings, ...overrides }
  })

/** Starts the gateway for the scope; returns its base URL. */
export const startGateway = (settings: GatewaySettings) =>
  Effect.as(Layer.build(GatewayServer.layer(settings, { host: "127.0.0.1" })), `http://127.0.0.1:${settings.httpPort}`)

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** The parsed body; undefined when it is not JSON. */
  readonly json: unknown
}

/** One HTTP request with fetch; never fails on a status. */
export const request = (url: string, init: RequestInit = {}) =>
  Effect.promise(async (): Promise<Reply> => {
    const response = await fetch(url, init)
    const text = await response.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.status, headers: response.headers, text, json }
  })

export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  request(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body)
  })

/** A gateway in front of a real tasks service, for `layer(GatewayUnderTest.layer)`. */
export class GatewayUnderTest extends Context.Service<
  GatewayUnderTest,
  { readonly url: string; readonly tasksTarget: string; readonly databaseUrl: string }
>()("test/GatewayUnderTest") {}
