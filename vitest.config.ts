import { defineConfig } from "vitest/config"
import { propRunsSetting, propRunsVariable } from "./testing/propRuns.ts"

/**
 * The oldest Node the tests run on: `engines` in package.json. `vitest`'s
 * `#!/usr/bin/env node` line takes whatever node is first on `PATH`, so
 * `node_modules/.bin/vitest` started by hand finds the system's (Node 20 on
 * the development machines), and three packages would then fail deep inside
 * (`Map.groupBy is not a function`). `npm test` and `npx vitest` put
 * `node_modules/.bin` (the pinned Node 24) first on `PATH`.
 */
const minimumNode = [22, 19] as const

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < minimumNode[0] || (major === minimumNode[0] && minor < minimumNode[1])) {
  throw new Error(
    `chainjobs' tests run on Node 24 (the project's pinned \`node\` devDependency), but this is Node ${process.versions.node} ` +
      `(${process.execPath}). Run them through npm or npx, which put the pinned Node first on PATH:\n` +
      `  npm test                              # type check + every test\n` +
      `  npm test -- <file>                    # type check + one test file\n` +
      `  npx vitest run <file>                 # one test file`
  )
}

/**
 * `CHAINJOBS_PROP_RUNS=<n>` raises every property's run count (see
 * `testing/propRuns.ts`): each test worker then preloads the hook that gives
 * `@effect/vitest` the raised `checkEffect`. The packages' directory projects
 * take none of this file's test settings but `env`, which reaches every
 * worker, so the preload rides on `NODE_OPTIONS`. A bad value stops the run here.
 */
const raisedPropRuns = propRunsSetting(process.env[propRunsVariable])
const propRunsEnv = raisedPropRuns === undefined ? {} : {
  env: {
    NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${new URL("./testing/propRunsHooks.ts", import.meta.url).href}`]
      .filter((option) => option !== undefined && option !== "")
      .join(" ")
  }
}

/** Every package under packages/ is a test project, and so are the examples and the tests of the mutation tooling and of the bench runner; `npm test` runs them all. */
export default defineConfig({
  test: {
    projects: ["packages/*", "examples", "mutation/test", "bench"],
    ...propRunsEnv
  }
})
