/** Test-side clients: gRPC calls as Effects, a GET of the service's HTTP side, and reading what reached a RabbitMQ queue. */
import * as grpc from "@grpc/grpc-js"
import type { UnaryMethod } from "@workstream/proto"
import amqp, { type GetMessage } from "amqplib"
import { Effect } from "effect"
import { AMQP_URL } from "./harness.ts"

/** One unary call; fails with the gRPC ServiceError (code + details). */
export const call = <Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: { readonly deadlineMs?: number; readonly metadata?: Record<string, string> } = {}
): Effect.Effect<Res, grpc.ServiceError> =>
  Effect.callback<Res, grpc.ServiceError>((resume) => {
    const metadata = new grpc.Metadata()
    for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value)
    method(request, metadata, { deadline: Date.now() + (options.deadlineMs ?? 5_000) }, (error, response) =>
      resume(error ? Effect.fail(error) : Effect.succeed(response))
    )
  })

/** A GET of the service's HTTP side (health, metrics): its status and body. */
export const http = (port: number, path: string) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: response.status, body: await response.text() }
  })

/** The status code a call failed with, or "OK". */
export const codeOf = <A, R>(effect: Effect.Effect<A, grpc.ServiceError, R>) =>
  effect.pipe(Effect.match({ onFailure: (error) => grpc.status[error.code], onSuccess: () => "OK" }))

export interface Received {
  readonly body: string
  readonly routingKey: string
  readonly messageId: string
  readonly headers: Record<string, unknown>
  readonly persistent: boolean
}

/** Takes messages off `queue` until `count` arrived or `timeoutMs` passed (whichever first). */
export const takeMessages = (queue: string, count: number, timeoutMs = 15_000) =>
  Effect.promise(async () => {
    const connection = await amqp.connect(AMQP_URL)
    const channel = await connection.createChannel()
    const received: Array<Received> = []
    const deadline = Date.now() + timeoutMs
    try {
      while (received.length < count && Date.now() < deadline) {
        const message: GetMessage | false = await channel.get(queue, { noAck: true })
        if (message === false) {
          await new Promise((resolve) => setTimeout(resolve, 50))
          continue
        }
        received.push({
          body: message.content.toString("utf8"),
          routingKey: message.fields.routingKey,
          messageId: String(message.properties.messageId),
          headers: message.properties.headers ?? {},
          persistent: message.properties.deliveryMode === 2
        })
      }
      return received
    } finally {
      await connection.close()
    }
  })
