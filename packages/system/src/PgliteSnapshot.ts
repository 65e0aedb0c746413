/**
 * A fresh PGlite begins with initdb: about 2.5 s of WebAssembly, most of the embedded mode's
 * start-up. The first in-memory start saves the initialised data directory as a tarball under
 * `node_modules/.cache/workstream`; later starts load it instead (about 0.4 s). The file is keyed
 * by PGlite's version, written atomically, and one that cannot be loaded is replaced.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import { PGlite } from "@electric-sql/pglite"
import manifest from "../package.json" with { type: "json" }

const CACHE = fileURLToPath(new URL("../../../node_modules/.cache/workstream/", import.meta.url))
export const SNAPSHOT = `${CACHE}pglite-${manifest.dependencies["@electric-sql/pglite"]}-initdb.tar`

const fromSnapshot = async (snapshot: string): Promise<PGlite | undefined> => {
  let tarball: Buffer
  try {
    tarball = readFileSync(snapshot)
  } catch {
    return undefined
  }
  try {
    return await PGlite.create({ loadDataDir: new Blob([tarball]) })
  } catch {
    rmSync(snapshot, { force: true })
    return undefined
  }
}

/** Saving is an optimisation: a read-only or full disk only means the next start is slower. */
const save = async (db: PGlite, snapshot: string): Promise<void> => {
  try {
    const tarball = Buffer.from(await (await db.dumpDataDir("none")).arrayBuffer())
    mkdirSync(dirname(snapshot), { recursive: true })
    const partial = `${snapshot}.${process.pid}.partial`
    writeFileSync(partial, tarball)
    renameSync(partial, snapshot)
  } catch {
    // Next time, then.
  }
}

/** A PGlite in memory, freshly initialised: from the snapshot file when there is one. */
export const createInMemory = async (snapshot = SNAPSHOT): Promise<PGlite> => {
  const restored = await fromSnapshot(snapshot)
  if (restored !== undefined) return restored
  const db = await PGlite.create()
  await save(db, snapshot)
  return db
}
