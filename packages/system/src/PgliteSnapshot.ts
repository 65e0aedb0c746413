/**
 * A fresh PGlite begins with initdb: about 2.5 s of WebAssembly, most of the embedded mode's
 * start-up. The first in-memory start saves the initialised data directory as a tarball under
 * `node_modules/.cache/workstream`; later starts load it instead (about 0.4 s). The file is keyed
 * by PGlite's version, written atomically, and one that cannot be loaded is replaced.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { PGlite } from "@electric-sql/pglite"

const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  readonly dependencies: Readonly<Record<string, string>>
}
const CACHE = fileURLToPath(new URL("../../../node_modules/.cache/workstream/", import.meta.url))
export const SNAPSHOT = `${CACHE}pglite-${manifest.dependencies["@electric-sql/pglite"]}-initdb.tar`

const fromSnapshot = async (): Promise<PGlite | undefined> => {
  let tarball: Buffer
  try {
    tarball = readFileSync(SNAPSHOT)
  } catch {
    return undefined
  }
  try {
    return await PGlite.create({ loadDataDir: new Blob([tarball]) })
  } catch {
    rmSync(SNAPSHOT, { force: true })
    return undefined
  }
}

/** Saving is an optimisation: a read-only or full disk only means the next start is slower. */
const save = async (db: PGlite): Promise<void> => {
  try {
    const tarball = Buffer.from(await (await db.dumpDataDir("none")).arrayBuffer())
    mkdirSync(CACHE, { recursive: true })
    const partial = `${SNAPSHOT}.${process.pid}.partial`
    writeFileSync(partial, tarball)
    renameSync(partial, SNAPSHOT)
  } catch {
    // Next time, then.
  }
}

/** A PGlite in memory, freshly initialised: from the snapshot when there is one. */
export const createInMemory = async (): Promise<PGlite> => {
  const restored = await fromSnapshot()
  if (restored !== undefined) return restored
  const db = await PGlite.create()
  await save(db)
  return db
}
