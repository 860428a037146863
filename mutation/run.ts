/**
 * `npm run mutate -- <package> [<package>…] [stryker options]`: mutation
 * testing with StrykerJS. For each named package (a folder of `packages/`)
 * Stryker mutates its `src/` and runs the package's own tests against every
 * mutant (settings in `stryker.config.mjs` beside this file), then this
 * prints the score of each package from its JSON report. Options starting
 * with `-` go to Stryker as they are, e.g. `--mutate
 * packages/tasks/src/TaskPolicy.ts` to sample files, `--concurrency 2`, or
 * `--force` to ignore the incremental file.
 *
 * Stryker and the vitest it runs in its workers start on this process's
 * node, which `npm run` takes from `node_modules/.bin` (the pinned Node 24).
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const known = readdirSync(join(root, "packages")).filter((name) => existsSync(join(root, "packages", name, "src")))
const args = process.argv.slice(2)
const firstOption = args.findIndex((arg) => arg.startsWith("-"))
const names = firstOption === -1 ? args : args.slice(0, firstOption)
const options = firstOption === -1 ? [] : args.slice(firstOption)

const unknown = names.filter((name) => !known.includes(name))
if (names.length === 0 || unknown.length > 0) {
  console.error(
    `${unknown.length > 0 ? `unknown package: ${unknown.join(", ")}\n` : ""}` +
      `usage: npm run mutate -- <package> [<package>…] [stryker options]\npackages: ${known.join(", ")}`
  )
  process.exit(2)
}

/** The state of one mutant in Stryker's JSON report (mutation-testing-report-schema). */
interface ReportedMutant {
  readonly status: string
}

/** Counts of a report: detected (killed or timed out), undetected (survived or not covered), and the rest. */
const score = (name: string) => {
  const report = JSON.parse(readFileSync(join(root, "reports", "mutation", name, "mutation.json"), "utf8")) as {
    readonly files: Record<string, { readonly mutants: ReadonlyArray<ReportedMutant> }>
  }
  const count: Record<string, number> = {}
  for (const file of Object.values(report.files)) {
    for (const mutant of file.mutants) count[mutant.status] = (count[mutant.status] ?? 0) + 1
  }
  const detected = (count.Killed ?? 0) + (count.Timeout ?? 0)
  const undetected = (count.Survived ?? 0) + (count.NoCoverage ?? 0)
  return { detected, undetected, count, percent: detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected) }
}

const stryker = join(root, "node_modules", "@stryker-mutator", "core", "bin", "stryker.js")
const lines: Array<string> = []
let failed = 0
for (const name of names) {
  console.log(`\n=== mutation testing packages/${name}/src`)
  const result = spawnSync(process.execPath, [stryker, "run", join("mutation", "stryker.config.mjs"), ...options], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, CHAINJOBS_MUTATE_PACKAGE: name }
  })
  if (result.status !== 0) {
    failed++
    lines.push(`${name}: stryker exited with ${result.status ?? result.signal}`)
    continue
  }
  const { count, detected, percent, undetected } = score(name)
  lines.push(
    `${name}: ${percent.toFixed(2)}% (${detected} detected, ${undetected} undetected; ` +
      `${Object.entries(count).map(([status, n]) => `${status} ${n}`).join(", ")}) — reports/mutation/${name}/index.html`
  )
}
console.log(`\n=== mutation scores\n${lines.join("\n")}`)
process.exit(failed === 0 ? 0 : 1)
