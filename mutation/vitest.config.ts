import { existsSync, readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { configDefaults, defineConfig } from "vitest/config"

/**
 * The vitest settings Stryker runs a package's tests with: that package's
 * test files only, in one project. Tests whose subject runs in a child
 * process (crash tests, the `main` entry point) are left out: Stryker turns a
 * mutant on in the test process alone, so they cannot see it, and each
 * costs seconds per mutant. So is the generated-client test, which
 * type-checks a program with `tsc` in child processes, five times per run:
 * in the sandbox it cannot pass (the client's own `clients/generated/node_modules`
 * is not copied there, so its types read as `any`).
 */
const name = process.env.CHAINJOBS_MUTATE_PACKAGE ?? ""

/**
 * The repository this file sits in: Stryker's sandbox copy during a run.
 * The sandbox links `node_modules` to the original one, whose workspace
 * links (`@chainjobs/tasks` → `../../packages/tasks`) lead back to the
 * original sources; the aliases below send a test's `@chainjobs/<package>`
 * imports to the sandbox's packages instead, so a mutant is seen by the
 * tests that reach it through the package's entry point, and every module is
 * loaded once.
 */
const root = dirname(dirname(fileURLToPath(import.meta.url)))
const packages = readdirSync(join(root, "packages")).filter((dir) => existsSync(join(root, "packages", dir, "src", "index.ts")))
const names = packages.join("|")

/**
 * Packages whose tests start a dev chain per test file: in a mutation run
 * they share one node per Stryker worker (`devChainSetup.ts`), each file
 * isolated by a snapshot reverted when it ends (`sharedDevChain.ts`), and the
 * files run one at a time (as Stryker runs them anyway). A node start per
 * file per mutant was most of a chain mutant's cost. `npm test` is not
 * affected: there every file starts its own node, in parallel. server too:
 * its dev-chain files (`WatchService*`, `DevActivity*`, `ChainsApi`) each
 * started a node, which at load 15–19 missed `DevChain`'s 30 s start bound
 * as a child of the nice-10 run (session 23's B18 dry run); its other files
 * pay one node start per run, in the global setup.
 */
const sharesDevChain = new Set(["chain", "watch", "server"])
const shared = sharesDevChain.has(name)

/**
 * Packages whose test files run one at a time in one vitest worker without
 * per-file isolation in a mutation run: the dev-chain packages above;
 * server, whose every test file starts the whole service, so that the
 * service's modules (its HTTP API, its OpenAPI document, the runtime) are
 * loaded once per Stryker worker rather than once per file per mutant;
 * tasks and store-sql, whose files each load the runtime and effect again
 * when isolated; and rpc, whose in-process files each load the server, the
 * task runtime and effect's HTTP and RPC modules again when isolated (13 of
 * them: 271 s, 90% of it imports, 15 s of tests), so that a mutant every
 * server test reaches cost about a minute even on an idle machine; and
 * cluster, whose every mutant loaded effect's cluster, SQL and RPC modules
 * and the task runtime again in a fresh worker (about 1.5 mutants a minute
 * against its fast files, a few seconds of tests each); and sui, whose
 * mutants each started a fresh worker and loaded the SDK, effect and the
 * watch package again (20–80 s a mutant at load 15, session 22's V3, where
 * each file's tests take a second or two).
 */
const unisolated = shared || ["server", "tasks", "store-sql", "rpc", "cluster", "sui"].includes(name)

/**
 * vitest's per-test and per-hook bounds in a mutation run. Stryker runs
 * under `nice -n 15` on the shared machine, so its tests get the CPU last: at
 * load average 18 a SQLite worker thread took about 1.5 s to start, and a
 * test opening three of them (`NodeSqliteClientOptions`' `wal: false` test)
 * ran past vitest's 5 s default, which failed the dry run and so the whole
 * run (2026-12-02, store-sql). A mutant's own bound is Stryker's (3× its
 * tests' dry-run time + 15 s, counted as a timeout); vitest's default would
 * cut a slow survivor first and count it as killed.
 *
 * tasks' tests are in memory, most under the test clock (51 of them took
 * 3.4 s together in a dry run at load 10), so a test of theirs still waiting
 * after 10 s waits for something a mutant broke: vitest fails it there
 * (killed), in the same worker. Stryker's own timeout came later (3× the
 * tests' time + 15 s + the dry run's overhead, ≈ 30 s) and also ends the
 * worker, so the next mutant loads every module again. `TaskFeed.ts`, whose
 * mutants often leave a subscriber waiting for a change: 14 tested in 5.5 min
 * (8 timeouts, load 10), 32 in 5.5 min with this bound (1 timeout, load
 * 21–28), the same verdicts (detected) for the 12 both reached.
 * `CHAINJOBS_MUTATE_TEST_MILLIS` sets it for one run: a stage of a package
 * against test files that run in memory (store-sql's `GroupCommit*`).
 */
const testBoundMillis = ((setting: string | undefined): number => {
  if (setting === undefined) return name === "tasks" ? 10_000 : 60_000
  const millis = Number(setting)
  // refused rather than read as NaN ("10s"), which vitest would take as no bound at all
  if (!/^[0-9]+$/.test(setting) || !Number.isSafeInteger(millis) || millis <= 0) {
    throw new Error(`CHAINJOBS_MUTATE_TEST_MILLIS must be a positive whole number of milliseconds, not ${JSON.stringify(setting)}`)
  }
  return millis
})(process.env.CHAINJOBS_MUTATE_TEST_MILLIS)

export default defineConfig({
  resolve: {
    alias: [
      ...(shared ? [{ find: /^@chainjobs\/devchain$/, replacement: join(root, "mutation", "sharedDevChain.ts") }] : []),
      // `@chainjobs/tasks/test/<module>`: the tasks package exports its test helpers (package.json "./test/*").
      { find: /^@chainjobs\/tasks\/test\/(.+)$/, replacement: join(root, "packages", "tasks", "test", "$1.ts") },
      { find: new RegExp(`^@chainjobs/(${names})$`), replacement: join(root, "packages", "$1", "src", "index.ts") }
    ]
  },
  test: {
    include: [`packages/${name}/test/**/*.test.ts`],
    exclude: [...configDefaults.exclude, "**/CrashRecovery.test.ts", "**/main.test.ts", "**/GeneratedClient.test.ts"],
    ...(shared ? { globalSetup: [join(root, "mutation", "devChainSetup.ts")] } : {}),
    ...(unisolated ? { fileParallelism: false, isolate: false } : {}),
    testTimeout: testBoundMillis,
    hookTimeout: testBoundMillis
  }
})
