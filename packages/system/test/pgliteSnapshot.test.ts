import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { describe, expect, it } from "vitest"
import { createInMemory, SNAPSHOT } from "../src/PgliteSnapshot.ts"

describe("the PGlite snapshot", () => {
  it("starts a working database from a snapshot, and replaces one that cannot be loaded", async () => {
    mkdirSync(dirname(SNAPSHOT), { recursive: true })
    writeFileSync(SNAPSHOT, "not a tarball")
    const fromScratch = await createInMemory()
    expect((await fromScratch.query<{ answer: number }>("SELECT 41 + 1 AS answer")).rows).toEqual([{ answer: 42 }])
    await fromScratch.close()
    expect(existsSync(SNAPSHOT)).toBe(true)

    const restored = await createInMemory()
    await restored.exec("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    expect((await restored.query<{ n: number }>("SELECT count(*)::int AS n FROM t")).rows).toEqual([{ n: 1 }])
    await restored.close()

    const fresh = await createInMemory()
    const tables = await fresh.query("SELECT 1 FROM pg_tables WHERE tablename = 't'")
    expect(tables.rows, "a snapshot is the pristine database, not the last one's data").toEqual([])
    await fresh.close()
  }, 30_000)
})
