import { defineConfig } from "vitest/config"

/** Every package under packages/ is a test project; `npm test` runs them all. */
export default defineConfig({
  test: {
    projects: ["packages/*"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
