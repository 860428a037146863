/**
 * StrykerJS settings for one package of the workspace, named by
 * `CHAINJOBS_MUTATE_PACKAGE` (set by `mutation/run.ts`, which
 * `npm run mutate -- <package>` starts): its `src/` is mutated and its own
 * tests, run by vitest, must kill the mutants. The incremental file, which
 * lets a later run test only the mutants whose code or tests changed, is the
 * package's results file kept in the repository, `mutation/results/<package>.json`
 * (`results.ts`); the HTML report lands in `reports/mutation/<package>/`
 * (git-ignored).
 */
import { keptRunsOf } from "./keptWorker.ts"

const name = process.env.CHAINJOBS_MUTATE_PACKAGE
if (name === undefined || name === "") {
  throw new Error("mutation/stryker.config.mjs: run it through `npm run mutate -- <package>`")
}
const reports = `reports/mutation/${name}`

/**
 * The test runner: `vitest-kept` (`keptWorker.ts`), Stryker's vitest runner
 * whose test worker and its modules outlive a mutant's run in the
 * non-isolated packages, or with `CHAINJOBS_MUTATE_KEEP_WORKER=0` Stryker's
 * plain `vitest` runner, a fresh worker per mutant.
 */
const testRunner = keptRunsOf(process.env.CHAINJOBS_MUTATE_KEEP_WORKER) === 0 ? "vitest" : "vitest-kept"

/**
 * Static mutants (reached while a module loads) are skipped (`ignoreStatic`),
 * as before session 20: a stage names `--testFiles`, and Stryker's planner
 * then gives a static mutant those files as its test filter, which makes it
 * switch the mutant on at run time (`mutantActivation: "runtime"`, in a
 * `beforeAll`), after the modules loaded: the mutant is never seen and
 * survives, with either runner (session 20: 13 of 13 in Principal.ts, and
 * server's B3). `CHAINJOBS_MUTATE_STATIC=1` tests them all the same (only
 * meaningful without `--testFiles`).
 */
const staticSetting = process.env.CHAINJOBS_MUTATE_STATIC ?? "0"
if (staticSetting !== "0" && staticSetting !== "1") {
  throw new Error(`CHAINJOBS_MUTATE_STATIC must be 1 (test static mutants) or 0, not ${JSON.stringify(staticSetting)}`)
}

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner,
  // the vitest runner's plugin also declares the `vitest` options below, which `vitest-kept` passes on to it
  plugins: ["@stryker-mutator/vitest-runner", "./mutation/keptWorker.ts"],
  // `related`: the dry run runs only the test files that import a mutated file (vitest's module graph), so a
  // run sampling one file (`--mutate packages/x/src/Foo.ts`) does not pay for the whole package's tests.
  vitest: { configFile: "mutation/vitest.config.ts", related: true },
  // Code that runs only on another thread is left out, as the child-process tests are (see vitest.config.ts):
  // a mutant is switched on in the test process's globals, which a worker thread does not share.
  mutate: [`packages/${name}/src/**/*.ts`, "!**/internal/sqliteWorker.ts"],
  coverageAnalysis: "perTest",
  // The development machines have 2 cores shared by several people; `--concurrency n` overrides it.
  concurrency: 1,
  ignoreStatic: staticSetting === "0",
  incremental: true,
  incrementalFile: `mutation/results/${name}.json`,
  // The JSON report would be the incremental file again: `npm run mutate -- --report` reads the results.
  reporters: ["clear-text", "progress", "html"],
  htmlReporter: { fileName: `${reports}/index.html` },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0, reportScoreTable: true, reportMutants: true },
  tempDirName: ".stryker-tmp", // run.ts gives each run its own folder under it
  // Stryker rewrites the tsconfig it names with TypeScript's JS API, which TypeScript 7 no longer has; the
  // sandbox needs no rewrite (vitest strips types itself, no path leaves the repository), so it names none.
  tsconfigFile: "mutation/none.json",
  cleanTempDir: "always",
  // `.stryker-tmp`: every run's sandbox lives in a folder of its own there (`run.ts` names it), which another
  // run going on in the same checkout must not copy; `mutation/results` is read from the checkout, not the sandbox.
  ignorePatterns: ["bench", "data", "coverage", ".vitest", ".stryker-tmp", "mutation/results"],
  // A mutant's tests may take timeoutFactor × their dry-run time + timeoutMS before it counts as a timeout
  // (detected). The shared machine's load varies by a factor of several during a run, so both are generous:
  // a survivor slowed by load must not pass as a timeout.
  timeoutFactor: 3,
  timeoutMS: 15_000,
  dryRunTimeoutMinutes: 15
}
