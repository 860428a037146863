import { defineConfig } from "vitest/config"

/** Every package under packages/ is a test project, and so are the examples; `npm test` runs them all. */
export default defineConfig({
  test: {
    projects: ["packages/*", "examples"]
  }
})
