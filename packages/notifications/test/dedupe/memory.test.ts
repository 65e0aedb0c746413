import { TestClock } from "effect/testing"
import { dedupeInMemory } from "../../src/index.ts"
import { contractSuite, TTL } from "./contract.ts"

contractSuite("in-memory dedupe", dedupeInMemory({ ttl: TTL }), (duration) => TestClock.adjust(duration), {
  live: false
})
