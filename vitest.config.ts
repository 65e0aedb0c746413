import { defineConfig } from "vitest/config"

// One run covers every package: `pnpm test` at the root is the whole suite.
export default defineConfig({
  test: {
    projects: ["packages/*"],
    reporters: process.env.CI ? ["default", ["json", { outputFile: ".ci/results/vitest.json" }]] : ["default"]
  }
})
