import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { createInMemory } from "../src/PgliteSnapshot.ts"

// A snapshot file of its own: the shared cache is read by the other tests and by `pnpm start`.
const directory = mkdtempSync(join(tmpdir(), "ws-pglite-snapshot-"))
const SNAPSHOT = join(directory, "initdb.tar")
afterAll(() => rmSync(directory, { recursive: true, force: true }))

describe("the PGlite snapshot", () => {
  it("starts a working database from a snapshot, and replaces one that cannot be loaded", async () => {
    writeFileSync(SNAPSHOT, "not a tarball")
    const fromScratch = await createInMemory(SNAPSHOT)
    expect((await fromScratch.query<{ answer: number }>("SELECT 41 + 1 AS answer")).rows).toEqual([{ answer: 42 }])
    await fromScratch.close()
    expect(existsSync(SNAPSHOT)).toBe(true)

    const restored = await createInMemory(SNAPSHOT)
    await restored.exec("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    expect((await restored.query<{ n: number }>("SELECT count(*)::int AS n FROM t")).rows).toEqual([{ n: 1 }])
    await restored.close()

    const fresh = await createInMemory(SNAPSHOT)
    const tables = await fresh.query("SELECT 1 FROM pg_tables WHERE tablename = 't'")
    expect(tables.rows, "a snapshot is the pristine database, not the last one's data").toEqual([])
    await fresh.close()
  }, 30_000)
})
