import { configDefaults, defineConfig } from "vitest/config"

/**
 * The vitest settings Stryker runs a package's tests with: that package's
 * test files only, in one project. Tests whose subject runs in a child
 * process (crash tests, the `main` entry point) are left out: Stryker turns a
 * mutant on in the test process alone, so they cannot see it, and each
 * costs seconds per mutant.
 */
const name = process.env.CHAINJOBS_MUTATE_PACKAGE ?? ""

export default defineConfig({
  test: {
    include: [`packages/${name}/test/**/*.test.ts`],
    exclude: [...configDefaults.exclude, "**/CrashRecovery.test.ts", "**/main.test.ts"]
  }
})
