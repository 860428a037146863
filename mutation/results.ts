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
 * say only when it was checked out), and when each mutant's result was
 * last produced (`testedAt`: a run carries over the files it does not
 * mutate, and the results it reuses, so a part saved late can hold results
 * from long before).
 * `mergeResults` makes one view of a package's files for `--report`.
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

/** A results file as written by Stryker, or by `compact` (which adds `savedAt` and `testedAt`). */
interface Results {
  readonly schemaVersion?: string
  readonly savedAt?: string
  /** Per source file, when each mutant's result (by `mutantKey`) was last produced (ISO time); one without: `savedAt`. */
  readonly testedAt?: Record<string, Record<string, string> | string>
  readonly files?: Record<string, ReportedFile>
  readonly testFiles?: Record<string, ReportedTestFile>
}

/**
 * A package's results file, read: where it is, when it was saved, its source
 * files, and per file when each mutant's result (by `mutantKey`) was last
 * produced (milliseconds; `savedAt` for one `compact` did not stamp).
 */
export interface ResultsFile {
  readonly path: string
  readonly savedAt: number
  readonly testedAt: Record<string, Record<string, number>>
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

/**
 * The `--mutate` argument that has Stryker test exactly the mutants inside
 * `mutant`'s place in `file` (`<file>:<line>:<column>-<line>:<column>`), to
 * run a file's timeouts again (`--force`) without the rest of it: Stryker
 * reads a range's columns from 0 and a results file counts them from 1, so a
 * place copied as it is leaves out the mutant starting at its first column.
 */
export const mutateRange = (file: string, { location: { end, start } }: ReportedMutant): string =>
  `${file}:${start.line}:${start.column - 1}-${end.line}:${end.column - 1}`

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
 * A mutant's place and change, which tell it apart among its file's mutants
 * across runs (a mutant's id is its run's own): Stryker's instrumenter makes
 * one mutant of a change at a place.
 */
export const mutantKey = ({ location: { end, start }, mutatorName, replacement }: ReportedMutant): string =>
  `${start.line}:${start.column}-${end.line}:${end.column} ${mutatorName} ${replacement ?? ""}`

/**
 * A mutant told apart from its line numbers: its change, its columns and the
 * text of the lines it spans (`lines`: its source's, split). Stryker carries a
 * result over to a changed source only where the code around it did not
 * change (its incremental differ moves the mutant with its lines, and writes
 * the file's source as it is now): such a result has the same key before and
 * after, where `mutantKey` changes with every line added or removed above it.
 */
const movedKey = (lines: ReadonlyArray<string>, mutant: ReportedMutant): string => {
  const { end, start } = mutant.location
  return `${start.column}-${end.column} ${mutant.mutatorName} ${mutant.replacement ?? ""}\n${lines.slice(start.line - 1, end.line).join("\n")}`
}

/**
 * When each mutant's result was last produced, for the results a run wrote
 * over `previous` (the file before the run, if any) at `savedAt`: a mutant
 * the file held there with the same status keeps its time there (its stamp,
 * else that file's `savedAt`) — the run carried it over, reused it, or
 * tested it again to the same verdict —, any other is stamped `savedAt`. A
 * kill at vitest's bound and a plain kill are different verdicts here
 * (`killedAtBound`): a `--force` run that turns the one into the other is
 * the latest result, not hidden by an older part's copy saved later. A
 * mutant is found there by `movedKey` (among mutants of the same key, the
 * first with the first, in place order), so results a run carried over to a
 * source changed since — a file it did not mutate is written with its
 * source as it is now — keep their time rather than look produced by the run.
 */
const testedTimes = (files: Record<string, ReportedFile>, previous: Results | undefined, savedAt: string) =>
  Object.fromEntries(Object.keys(files).sort().map((name) => {
    const file = files[name]!
    const before = previous?.files?.[name]
    const stamps = previous?.testedAt?.[name]
    const was = new Map<string, Array<{ readonly status: string; readonly bound: boolean; readonly at: string }>>()
    if (before !== undefined) {
      const lines = (before.source ?? "").split("\n")
      for (const mutant of [...before.mutants].sort(byPlace)) {
        const stamp = typeof stamps === "string" ? stamps : stamps?.[mutantKey(mutant)]
        const key = movedKey(lines, mutant)
        was.set(key, [...(was.get(key) ?? []), { status: mutant.status, bound: killedAtBound(mutant), at: stamp ?? previous?.savedAt ?? savedAt }])
      }
    }
    const lines = (file.source ?? "").split("\n")
    return [name, Object.fromEntries([...file.mutants].sort(byPlace).map((mutant) => {
      const held = was.get(movedKey(lines, mutant))?.shift()
      const same = held !== undefined && held.status === mutant.status && held.bound === killedAtBound(mutant)
      return [mutantKey(mutant), same ? held.at : savedAt]
    }))]
  }))

/** A results file's text read, or undefined when it is not JSON (a run stopped while writing it): its stamps are then lost, not the run's results. */
const readable = (text: string): Results | undefined => {
  try {
    return JSON.parse(text) as Results
  } catch {
    return undefined
  }
}

/**
 * Rewrites a results file as kept in the repository (`kept` mutants sorted
 * by place, one a line; tests one a line; no options, dependencies or
 * machine paths), stamped with the time it is rewritten and, per source
 * file, when its results were produced (`testedTimes`, against `previous`:
 * the file's text before the run wrote it, if there was one). Returns its
 * size before and after, in bytes.
 */
export const compact = (path: string, savedAt: Date = new Date(), previous?: string) => {
  const text = readFileSync(path, "utf8")
  const results = JSON.parse(text) as Results
  const files = results.files ?? {}
  const testFiles = results.testFiles ?? {}
  const testedAt = testedTimes(files, previous === undefined ? undefined : readable(previous), savedAt.toISOString())
  const out = `{"schemaVersion":${JSON.stringify(results.schemaVersion ?? "1.0")},"savedAt":${JSON.stringify(savedAt.toISOString())},\n` +
    `"testedAt":{\n${lines(testedAt, (stamps) => JSON.stringify(stamps))}\n},\n` +
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
      const savedAt = Number.isNaN(stamped) ? statSync(path).mtimeMs : stamped
      const files = results.files ?? {}
      const testedAt = Object.fromEntries(Object.entries(files).map(([name, file]) => {
        const stamps = results.testedAt?.[name]
        return [name, Object.fromEntries(file.mutants.map((mutant) => {
          const key = mutantKey(mutant)
          const tested = Date.parse((typeof stamps === "string" ? stamps : stamps?.[key]) ?? "")
          return [key, Number.isNaN(tested) ? savedAt : tested]
        }))]
      }))
      return { path, savedAt, testedAt, files }
    })
    .sort((a, b) => b.savedAt - a.savedAt)
}

/** How well founded a mutant's result is: a test's verdict (2), a finding that no test reaches it (1), neither (0: static, ignored, or an error). */
const founded = (mutant: ReportedMutant): number =>
  ["Killed", "Timeout", "Survived"].includes(mutant.status) ? 2 : mutant.status === "NoCoverage" ? 1 : 0

/** A package's results merged into one view (`mergeResults`). */
export interface Merged {
  /** Each source file's mutants: its scored ones, and its static ones. */
  readonly files: Record<string, ReportedFile>
  /** The results files used, newest first. */
  readonly from: ReadonlyArray<string>
  /** Files no results file scored (their mutants all static, ignored): the newest results' view of each. */
  readonly staticOnly: Record<string, ReportedFile>
}

/**
 * A package's results files (`readResults`, newest first) merged into one
 * view, each source file's mutants from the results of its current source
 * (`sourceNow`; undefined for a file no longer there): for each mutant, the
 * best-founded result any file holds (a test's verdict over a finding of no
 * coverage, over a static mutant), among equals the one last produced (its
 * `testedAt` there). So parts run apart add up, a stopped run that
 * reached a file only in part leaves the rest to another part, and a part
 * saved late that carried a file's old results over does not hide a part's
 * later test of it. A file no results hold on its current source (it
 * changed since, or is gone) is taken whole from the newest results file
 * that tested it (else found any uncovered): `--report` marks it stale.
 */
export const mergeResults = (reports: ReadonlyArray<ResultsFile>, sourceNow: (file: string) => string | undefined): Merged => {
  const files: Record<string, ReportedFile> = {}
  const staticOnly: Record<string, ReportedFile> = {}
  const used = new Set<string>()
  for (const name of [...new Set(reports.flatMap((report) => Object.keys(report.files)))].sort()) {
    const holding = reports.filter((report) => report.files[name] !== undefined)
    const now = sourceNow(name)
    const current = holding.filter((report) => now !== undefined && report.files[name]!.source === now)
    const best = new Map<string, { readonly mutant: ReportedMutant; readonly path: string; readonly at: number }>()
    for (const report of current) {
      for (const mutant of report.files[name]!.mutants) {
        const key = mutantKey(mutant)
        const at = report.testedAt[name]?.[key] ?? report.savedAt
        const held = best.get(key)
        const better = held === undefined || founded(mutant) > founded(held.mutant) ||
          (founded(mutant) === founded(held.mutant) && at > held.at)
        if (better) best.set(key, { mutant, path: report.path, at })
      }
    }
    const merged = [...best.values()]
    if (merged.some(({ mutant }) => founded(mutant) > 0)) {
      files[name] = { ...current[0]!.files[name]!, mutants: merged.map(({ mutant }) => mutant) }
      for (const { path } of merged) used.add(path)
      continue
    }
    const whole = holding.find((report) => report.files[name]!.mutants.some((mutant) => founded(mutant) === 2)) ??
      holding.find((report) => report.files[name]!.mutants.some((mutant) => founded(mutant) === 1))
    if (whole !== undefined) {
      files[name] = whole.files[name]!
      used.add(whole.path)
    } else {
      staticOnly[name] = (current[0] ?? holding[0]!).files[name]!
    }
  }
  return { files, from: reports.filter((report) => used.has(report.path)).map((report) => report.path), staticOnly }
}
