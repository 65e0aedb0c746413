/** The image build context as Docker sends it: the repository root filtered by .dockerignore. */

import { cpSync, mkdirSync, readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import dockerignore from "@balena/dockerignore"
import { fromRoot, readText } from "./repo.ts"

// A CommonJS package whose types declare `export default`: at run time the default import is the
// function itself, while TypeScript (nodenext) sees the module object. This accepts both.
const ignore = typeof dockerignore === "function" ? dockerignore : dockerignore.default

const rules = () => ignore().add(readText(".dockerignore"))

/** Whether Docker would send this repository path (relative, with `/`) to the builder. */
export const inBuildContext = (path: string): boolean => !rules().ignores(path)

/** Copies the build context into `destination`: what `COPY . .` sees in the build stage. */
export const copyBuildContext = (destination: string): void => {
  const filter = rules()
  const walk = (relative: string): void => {
    for (const entry of readdirSync(fromRoot(relative), { withFileTypes: true })) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`
      // Safe to skip a whole ignored directory: .dockerignore has no `!` exceptions (a test checks).
      if (filter.ignores(path)) continue
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile()) {
        mkdirSync(dirname(join(destination, path)), { recursive: true })
        cpSync(fromRoot(path), join(destination, path))
      }
    }
  }
  walk("")
}
