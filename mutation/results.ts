/**
 * The mutation results kept in the repository: `mutation/results/<package>.json`,
 * Stryker's incremental file for the package (`incrementalFile` in
 * `stryker.config.mjs`), and `<package>.<part>.json` for a part run at the
 * same time as another (`--incrementalFile`). Committed, they survive a new
 * machine and add up across sessions: every run reuses the results whose
 * code and deciding tests did not change, and carries over those of the
 * files it did not mutate.
 *
 * Stryker writes the file pretty-printed, every test id of every mutant's
 * coverage on a line of its own, with its options and the machine's paths;
 * `compact` rewrites it with what Stryker's incremental differ reads (the
 * sources, each mutant's key, status and deciding tests, the tests' names
 * and places) one mutant or test a line, and stamps when it was saved, by
 * which `readResults` orders a package's files (a checkout's file times
 * say only when it was checked out).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/** The folder of the results, relative to the repository's root. */
export const resultsDir = join("mutation", "results")

/** A package's own results file (Stryker's default incremental file in a run of it), relative to the root. */
export const resultsFileOf = (name: string) => join(resultsDir, `${name}.json`)

/** One mutant in a results file (Stryker's mutation-testing-report-schema, as far as it is read here). */
export interface ReportedMutant {
  readonly status: string
  readonly mutatorName: string
  readonly replacement?: string
  readonly location: {
    readonly start: { readonly line: number; readonly column: number }
    readonly end: { readonly line: number; readonly column: number }
  }
  readonly coveredBy?: ReadonlyArray<string>
  readonly killedBy?: ReadonlyArray<string>
  readonly statusReason?: string
}

/** One source file in a results file: its source as the run saw it, and its mutants. */
export interface ReportedFile {
  readonly language?: string
  readonly source?: string
  readonly mutants: ReadonlyArray<ReportedMutant>
}

/** One test file in a results file: its source as the run saw it, and its tests. */
interface ReportedTestFile {
  readonly source?: string
  readonly tests: ReadonlyArray<unknown>
}

/** A results file as written by Stryker, or by `compact` (which adds `savedAt`). */
interface Results {
  readonly schemaVersion?: string
  readonly savedAt?: string
  readonly files?: Record<string, ReportedFile>
  readonly testFiles?: Record<string, ReportedTestFile>
}

/** A package's results file, read: where it is, when it was saved, and its source files. */
export interface ResultsFile {
  readonly path: string
  readonly savedAt: number
  readonly files: Record<string, ReportedFile>
}

/**
 * vitest's failure message for a test or hook that ran past its time bound
 * (`testTimeout`, `hookTimeout`: `mutation/vitest.config.ts`), as far as it
 * names the bound.
 */
const boundReached = /(?:Test|Hook) timed out in [0-9]+ms/

/**
 * Whether a test killed the mutant by running past vitest's time bound rather
 * than by an assertion: on a machine that starves the run of CPU for seconds
 * (a nice-19 run under load), such a kill may be a false one, to be counted
 * beside Stryker's own timeouts.
 */
export const killedAtBound = (mutant: ReportedMutant): boolean =>
  mutant.status === "Killed" && mutant.statusReason !== undefined && boundReached.test(mutant.statusReason)

/**
 * A mutant as kept: a killed or static (`Ignored`) mutant without its
 * coverage and the killing test's failure message — but for a kill at
 * vitest's time bound (`killedAtBound`), whose message is kept as far as it
 * names the bound. The differ decides again on a killed mutant only by its
 * killing tests (which it counts as covering it), and never reuses a static
 * one; a survivor's or timeout's coverage is kept, since a test added to it
 * has the mutant tested again.
 */
const kept = (mutant: ReportedMutant): ReportedMutant => {
  if (mutant.status !== "Killed" && mutant.status !== "Ignored") return mutant
  const { coveredBy: _coveredBy, statusReason, ...rest } = mutant
  const bound = killedAtBound(mutant) ? statusReason?.match(boundReached)?.[0] : undefined
  return bound === undefined ? rest : { ...rest, statusReason: bound }
}

/** Where a mutant starts and ends, to sort a file's mutants by. */
const byPlace = (a: ReportedMutant, b: ReportedMutant) =>
  a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column ||
  a.location.end.line - b.location.end.line || a.location.end.column - b.location.end.column ||
  a.mutatorName.localeCompare(b.mutatorName) || (a.replacement ?? "").localeCompare(b.replacement ?? "")

/** `record`'s entries sorted by name, each written by `entry` on lines of its own. */
const lines = <A>(record: Record<string, A>, entry: (value: A) => string) =>
  Object.keys(record).sort().map((key) => `${JSON.stringify(key)}:${entry(record[key]!)}`).join(",\n")

/** A list written one item a line. */
const list = (items: ReadonlyArray<unknown>) =>
  items.length === 0 ? "[]" : `[\n${items.map((item) => JSON.stringify(item)).join(",\n")}\n]`

/**
 * Rewrites a results file as kept in the repository (`kept` mutants sorted
 * by place, one a line; tests one a line; no options, dependencies or
 * machine paths), stamped with the time it is rewritten. Returns its size
 * before and after, in bytes.
 */
export const compact = (path: string, savedAt: Date = new Date()) => {
  const text = readFileSync(path, "utf8")
  const results = JSON.parse(text) as Results
  const files = results.files ?? {}
  const testFiles = results.testFiles ?? {}
  const out = `{"schemaVersion":${JSON.stringify(results.schemaVersion ?? "1.0")},"savedAt":${JSON.stringify(savedAt.toISOString())},\n` +
    `"files":{\n${
      lines(files, (file) =>
        `{"language":${JSON.stringify(file.language ?? "typescript")},"source":${JSON.stringify(file.source ?? "")},"mutants":${
          list(file.mutants.map(kept).sort(byPlace))
        }}`)
    }\n},\n` +
    `"testFiles":{\n${
      lines(testFiles, (file) =>
        `{${file.source === undefined ? "" : `"source":${JSON.stringify(file.source)},`}"tests":${list(file.tests)}}`)
    }\n}}\n`
  writeFileSync(path, out)
  return { before: Buffer.byteLength(text), after: Buffer.byteLength(out) }
}

/**
 * Every results file of a package — its own and its parts'
 * (`<package>.<part>.json`) — newest first by the time `compact` stamped in
 * it (a file Stryker wrote and nothing compacted yet: its modification time).
 */
export const readResults = (root: string, name: string): ReadonlyArray<ResultsFile> => {
  const dir = join(root, resultsDir)
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((file) => file === `${name}.json` || (file.startsWith(`${name}.`) && file.endsWith(".json")))
    .map((file) => {
      const path = join(dir, file)
      const results = JSON.parse(readFileSync(path, "utf8")) as Results
      const stamped = results.savedAt === undefined ? Number.NaN : Date.parse(results.savedAt)
      return { path, savedAt: Number.isNaN(stamped) ? statSync(path).mtimeMs : stamped, files: results.files ?? {} }
    })
    .sort((a, b) => b.savedAt - a.savedAt)
}
