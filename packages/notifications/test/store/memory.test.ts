import { recordsInMemory } from "../../src/index.ts"
import { contractSuite } from "./contract.ts"

contractSuite("in-memory store", recordsInMemory)
