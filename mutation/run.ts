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
 * `npm run mutate -- --report <package>…` runs nothing: it prints the score
 * of each package's last report and its surviving and uncovered mutants, one
 * a line (`file:line:column mutator: replacement`), to read before writing
 * the tests that kill them.
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
const reportOnly = process.argv[2] === "--report"
const args = process.argv.slice(reportOnly ? 3 : 2)
const firstOption = args.findIndex((arg) => arg.startsWith("-"))
const names = firstOption === -1 ? args : args.slice(0, firstOption)
const options = firstOption === -1 ? [] : args.slice(firstOption)

const unknown = names.filter((name) => !known.includes(name))
if (names.length === 0 || unknown.length > 0) {
  console.error(
    `${unknown.length > 0 ? `unknown package: ${unknown.join(", ")}\n` : ""}` +
      `usage: npm run mutate -- <package> [<package>…] [stryker options]\n` +
      `       npm run mutate -- --report <package> [<package>…]\npackages: ${known.join(", ")}`
  )
  process.exit(2)
}

/** One mutant in Stryker's JSON report (mutation-testing-report-schema). */
interface ReportedMutant {
  readonly status: string
  readonly mutatorName: string
  readonly replacement?: string
  readonly location: { readonly start: { readonly line: number; readonly column: number } }
}

const readReport = (name: string) =>
  JSON.parse(readFileSync(join(root, "reports", "mutation", name, "mutation.json"), "utf8")) as {
    readonly files: Record<string, { readonly mutants: ReadonlyArray<ReportedMutant> }>
  }

/** The mutants of a report no test detected, one a line: where, what, and into what. */
const undetected = (name: string): Array<string> =>
  Object.entries(readReport(name).files).flatMap(([file, { mutants }]) =>
    mutants
      .filter((mutant) => mutant.status === "Survived" || mutant.status === "NoCoverage")
      .map((mutant) =>
        `${mutant.status === "Survived" ? "survived " : "uncovered"} ${file}:${mutant.location.start.line}:${mutant.location.start.column} ` +
        `${mutant.mutatorName}: ${(mutant.replacement ?? "").replace(/\s+/g, " ").slice(0, 120)}`
      )
  )

/** Counts of a report: detected (killed or timed out), undetected (survived or not covered), and the rest. */
const score = (name: string) => {
  const report = readReport(name)
  const count: Record<string, number> = {}
  for (const file of Object.values(report.files)) {
    for (const mutant of file.mutants) count[mutant.status] = (count[mutant.status] ?? 0) + 1
  }
  const detected = (count.Killed ?? 0) + (count.Timeout ?? 0)
  const undetected = (count.Survived ?? 0) + (count.NoCoverage ?? 0)
  return { detected, undetected, count, percent: detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected) }
}

/** The score line of a package's last report. */
const scoreLine = (name: string) => {
  const { count, detected, percent, undetected } = score(name)
  return `${name}: ${percent.toFixed(2)}% (${detected} detected, ${undetected} undetected; ` +
    `${Object.entries(count).map(([status, n]) => `${status} ${n}`).join(", ")}) — reports/mutation/${name}/index.html`
}

if (reportOnly) {
  for (const name of names) {
    if (!existsSync(join(root, "reports", "mutation", name, "mutation.json"))) {
      console.log(`${name}: no report yet (npm run mutate -- ${name})`)
      continue
    }
    console.log([scoreLine(name), ...undetected(name)].join("\n"))
  }
  process.exit(0)
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
  lines.push(scoreLine(name))
}
console.log(`\n=== mutation scores\n${lines.join("\n")}`)
process.exit(failed === 0 ? 0 : 1)
