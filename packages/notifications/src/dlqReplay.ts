/**
 * `pnpm --filter @workstream/notifications dlq:replay [--event-id ID | --all] [--dry-run]`:
 * republishes dead letters through the main exchange and prints what it did.
 * Needs AMQP_URL; TOPOLOGY_PREFIX selects prefixed names (tests).
 */
import { parseArgs } from "node:util"
import { Topology } from "@workstream/platform"
import { Effect } from "effect"
import { replay } from "./replay/DlqReplay.ts"

const usage = "usage: dlq:replay (--event-id ID | --all) [--dry-run]   (AMQP_URL must be set)"

const main = Effect.gen(function* () {
  const { values } = parseArgs({
    options: { "event-id": { type: "string" }, all: { type: "boolean" }, "dry-run": { type: "boolean" } }
  })
  const amqpUrl = process.env.AMQP_URL
  if (amqpUrl === undefined || (values["event-id"] === undefined) === (values.all !== true)) {
    console.error(usage)
    return 2
  }
  const dryRun = values["dry-run"] === true
  const done = yield* replay({
    amqpUrl,
    topology: Topology.make({ prefix: process.env.TOPOLOGY_PREFIX ?? "" }),
    eventId: values["event-id"],
    dryRun
  })
  for (const item of done) {
    console.log(
      `${dryRun ? "would replay" : "replayed"} ${item.eventId} (${item.routingKey}; dead-lettered for: ${item.reason})`
    )
  }
  console.log(`${done.length} message(s) ${dryRun ? "would be replayed (dry run: nothing changed)" : "replayed"}`)
  return 0
})

const failed = (reason: string) =>
  Effect.sync(() => {
    console.error(`replay failed: ${reason}`)
    return 1
  })

Effect.runPromise(main.pipe(Effect.catchTag("ReplayFailed", (e) => failed(e.reason)))).then((code) => {
  process.exitCode = code
})
