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
 * `--minutes <n>` (taken by this command, not passed on) stops Stryker after
 * n minutes of each package's run, as Ctrl-C would: Stryker then saves what
 * it tested so far (and the results it reused) as a partial incremental
 * report, which the next run of the package reuses and the score below reads.
 * A run that cannot finish before a deadline so keeps its work.
 *
 * The incremental file is the package's results file in the repository,
 * `mutation/results/<package>.json` (`results.ts`), compacted here once the
 * run ended: committed, it survives a new machine, and every later run
 * reuses the results whose code and deciding tests did not change.
 *
 * `npm run mutate -- --report <package>…` runs nothing: it prints the score
 * of each package's results, per file, and its surviving and uncovered
 * mutants, one a line (`file:line:column mutator: replacement`), to read
 * before writing the tests that kill them. The package's results files are
 * merged (`readReport`): each mutant of a source file's current source gets
 * the best-founded result any of them holds — the package's own, or a
 * part's (`--incrementalFile mutation/results/<package>.<part>.json`, for
 * parts run at once) —, so parts add up to one score. Each file's line says whether
 * its score is whole: `partial` when the results it came from hold fewer
 * mutants than the file has now (a stopped run leaves out those it did not
 * reach), `stale` when the file's source changed since those results.
 *
 * Stryker and the vitest it runs in its workers start on this process's
 * node, which `npm run` takes from `node_modules/.bin` (the pinned Node 24).
 */
import { Instrumenter } from "@stryker-mutator/instrumenter"
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { compact, killedAtBound, mergeResults, mutateRange, readResults, type ReportedFile, type ReportedMutant, resultsFileOf } from "./results.ts"

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const known = readdirSync(join(root, "packages")).filter((name) => existsSync(join(root, "packages", name, "src")))
const reportOnly = process.argv[2] === "--report"
const timeoutsOnly = process.argv[2] === "--timeouts"
const given = process.argv.slice(reportOnly || timeoutsOnly ? 3 : 2)
const minutesAt = given.indexOf("--minutes")
const minutes = minutesAt === -1 ? undefined : Number(given[minutesAt + 1])
if (minutes !== undefined && !(minutes > 0)) {
  console.error(`--minutes takes a positive number of minutes, not ${JSON.stringify(given[minutesAt + 1])}`)
  process.exit(2)
}
const args = minutesAt === -1 ? given : [...given.slice(0, minutesAt), ...given.slice(minutesAt + 2)]
const firstOption = args.findIndex((arg) => arg.startsWith("-"))
const names = firstOption === -1 ? args : args.slice(0, firstOption)
const options = firstOption === -1 ? [] : args.slice(firstOption)

const unknown = names.filter((name) => !known.includes(name))
if (names.length === 0 || unknown.length > 0) {
  console.error(
    `${unknown.length > 0 ? `unknown package: ${unknown.join(", ")}\n` : ""}` +
      `usage: npm run mutate -- <package> [<package>…] [--minutes <n>] [stryker options]\n` +
      `       npm run mutate -- --report <package> [<package>…]\n` +
      `       npm run mutate -- --timeouts <package> [<package>…]\npackages: ${known.join(", ")}`
  )
  process.exit(2)
}

/**
 * A package's mutants by source file, merged from its results files
 * (`readResults`, `mergeResults`: per mutant of a file's current source the
 * best-founded result of any of them, the last produced among equals), so
 * parts run apart (each `--mutate <files> --incrementalFile
 * mutation/results/<package>.<part>.json`) add up to one score; `from`
 * names the files used, relative to the root.
 */
const readReport = (name: string) => {
  const sourceNow = (file: string) => existsSync(join(root, file)) ? readFileSync(join(root, file), "utf8") : undefined
  const { files, from, staticOnly } = mergeResults(readResults(root, name), sourceNow)
  return { files, from: from.map((path) => relative(root, path)), staticOnly }
}

/** A text on one line, its runs of whitespace as one space, cut to `length` characters. */
const oneLine = (text: string, length: number): string => {
  const flat = text.replace(/\s+/g, " ")
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat
}

/**
 * The code a mutant replaces, from the source its report saved (line and
 * column 1-based, the end exclusive), or `undefined` without one. Printed
 * beside the replacement: mutants starting at one place differ by their
 * extent (`a !== null && b` as `true`, and its left operand as `true`).
 */
const original = (source: string | undefined, { start, end }: ReportedMutant["location"]): string | undefined => {
  if (source === undefined) return undefined
  const lines = source.split("\n").slice(start.line - 1, end.line)
  if (lines.length === 0) return undefined
  // the end first: on a one-line mutant the first line is the last too, its columns counted from the line's start
  lines[lines.length - 1] = lines[lines.length - 1]!.slice(0, end.column - 1)
  lines[0] = lines[0]!.slice(start.column - 1)
  return lines.join("\n")
}

/** The mutants of a report no test detected, one a line: where, what, the code it replaces, and into what. */
const undetected = (name: string): Array<string> =>
  Object.entries(readReport(name).files).flatMap(([file, { mutants, source }]) =>
    mutants
      .filter((mutant) => mutant.status === "Survived" || mutant.status === "NoCoverage")
      .map((mutant) => {
        const replaced = original(source, mutant.location)
        return `${mutant.status === "Survived" ? "survived " : "uncovered"} ${file}:${mutant.location.start.line}:${mutant.location.start.column} ` +
          `${mutant.mutatorName}: ${replaced === undefined ? "" : `${oneLine(replaced, 60)} → `}${oneLine(mutant.replacement ?? "", 120)}`
      })
  )

/** Counts of some mutants: detected (killed or timed out), undetected (survived or not covered), and the rest. */
const score = (mutants: ReadonlyArray<ReportedMutant>) => {
  const count: Record<string, number> = {}
  for (const mutant of mutants) count[mutant.status] = (count[mutant.status] ?? 0) + 1
  const detected = (count.Killed ?? 0) + (count.Timeout ?? 0)
  const undetected = (count.Survived ?? 0) + (count.NoCoverage ?? 0)
  return { detected, undetected, count, percent: detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected) }
}

/**
 * A file's mutants detected by a timeout, as a note after its score (empty
 * when none): Stryker's (`Timeout`) and kills at vitest's bound
 * (`killedAtBound`, kept since session 16), and their share of the file's
 * scored mutants. Under a CPU stall either may be a false kill: a file whose
 * share passes 5% is run again (`--force --mutate <file>`) on a calmer machine.
 */
const timeoutNote = (mutants: ReadonlyArray<ReportedMutant>, scoredCount: number): string => {
  const stryker = mutants.filter((mutant) => mutant.status === "Timeout").length
  const bound = mutants.filter(killedAtBound).length
  if (stryker + bound === 0) return ""
  return ` [timeouts: ${stryker} Stryker's, ${bound} at vitest's bound; ${(100 * (stryker + bound) / scoredCount).toFixed(1)}% of its scored]`
}

/** Stryker's instrumenter, run here only to count each source file's mutants as a run would find them now. */
const instrumenter = new Instrumenter({
  isTraceEnabled: () => false,
  isDebugEnabled: () => false,
  isInfoEnabled: () => false,
  isWarnEnabled: () => false,
  isErrorEnabled: () => false,
  isFatalEnabled: () => false,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  fatal: () => undefined
})

/** How many mutants each source file has now, static ones included (as in a report, where they are `Ignored`). */
const mutantsNow = async (files: ReadonlyArray<string>): Promise<Record<string, number>> => {
  const { mutants } = await instrumenter.instrument(
    files.map((file) => ({ name: file, content: readFileSync(join(root, file), "utf8"), mutate: true })),
    { plugins: null, excludedMutations: [], ignorers: [] }
  )
  const count: Record<string, number> = Object.fromEntries(files.map((file) => [file, 0]))
  for (const mutant of mutants) count[mutant.fileName] = (count[mutant.fileName] ?? 0) + 1
  return count
}

/**
 * Whether a file's score is whole: `stale` when its source is not the one its
 * report saw, `partial` when that report holds fewer of its mutants (scored
 * or static) than it has now — a stopped run leaves out the ones it did not
 * reach — else `whole`.
 */
const wholeness = (file: string, report: ReportedFile, now: number) =>
  report.source !== undefined && report.source !== readFileSync(join(root, file), "utf8")
    ? "stale: its source changed since"
    : report.mutants.length < now
    ? `partial: ${now - report.mutants.length} of its ${now} mutants untested`
    : "whole"

/** The score line of a package's reports (merged: `readReport`), then one line per file saying whether it is whole. */
const scoreLines = async (name: string): Promise<Array<string>> => {
  const { files: byFile, from, staticOnly } = readReport(name)
  const files = Object.entries(byFile).sort(([a], [b]) => a.localeCompare(b))
  const { count, detected, percent, undetected } = score(files.flatMap(([, file]) => file.mutants))
  const sources = sourcesOf(name)
  const now = await mutantsNow(sources)
  const perFile = sources.map((file) => {
    const report = byFile[file]
    if (report !== undefined) {
      const { detected, percent, undetected } = score(report.mutants)
      const line = `${percent.toFixed(1)}% (${detected} of ${detected + undetected})${timeoutNote(report.mutants, detected + undetected)}`
      return { file, line, state: wholeness(file, report, now[file] ?? 0) }
    }
    const unscored = staticOnly[file]
    if (now[file] === 0) return { file, line: "no mutant", state: "whole" }
    if (unscored !== undefined) {
      const state = wholeness(file, unscored, now[file] ?? 0)
      return { file, line: "static mutants only (ignored)", state }
    }
    return { file, line: `not scored by any report`, state: `partial: ${now[file]} mutants untested` }
  })
  const whole = perFile.filter(({ state }) => state === "whole").length
  return [
    `${name}: ${percent.toFixed(2)}% (${detected} detected, ${undetected} undetected; ` +
    `${Object.entries(count).map(([status, n]) => `${status} ${n}`).join(", ")}) — from ${from.join(", ")}`,
    `${name}: ${whole === perFile.length ? "whole" : "NOT whole"}: ${whole} of ${perFile.length} source files whole (scored from their current source, every mutant)`,
    ...perFile.map(({ file, line, state }) => `  ${file}: ${line}${state === "whole" ? "" : ` — ${state}`}`)
  ]
}

/** The package's source files Stryker mutates (`packages/<name>/src/**.ts`), as its reports name them. */
const sourcesOf = (name: string): Array<string> => {
  const walk = (dir: string): Array<string> =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
    )
  // as stryker.config.mjs's `mutate` leaves out (code run on a worker thread only)
  return walk(join("packages", name, "src")).filter((file) => !file.endsWith("/internal/sqliteWorker.ts")).sort()
}

/**
 * `--timeouts`: per file of the package's merged results with mutants detected
 * by a timeout (`timeoutNote`'s: Stryker's, and kills at vitest's bound), the
 * `--mutate` ranges of exactly those (`mutateRange`), one file a line, for a
 * `--force` run of them again on a calmer machine.
 */
const timeoutRanges = (name: string): Array<string> =>
  Object.entries(readReport(name).files).sort(([a], [b]) => a.localeCompare(b)).flatMap(([file, { mutants, source }]) => {
    const timedOut = mutants.filter((mutant) => mutant.status === "Timeout" || killedAtBound(mutant))
    // a file since removed (its results linger in a part file) has nothing to run again
    if (timedOut.length === 0 || !existsSync(join(root, file))) return []
    // a stale file's places are its old source's: stage it first
    if (source !== readFileSync(join(root, file), "utf8")) return [`${file} (${timedOut.length}): stale, stage the file first`]
    return [`${file} (${timedOut.length}): --mutate ${[...new Set(timedOut.map((mutant) => mutateRange(file, mutant)))].join(",")}`]
  })

if (timeoutsOnly) {
  for (const name of names) console.log([`${name}:`, ...timeoutRanges(name)].join("\n"))
  process.exit(0)
}

if (reportOnly) {
  for (const name of names) {
    if (readResults(root, name).length === 0) {
      console.log(`${name}: no results yet (npm run mutate -- ${name})`)
      continue
    }
    console.log([...(await scoreLines(name)), ...undetected(name)].join("\n"))
  }
  process.exit(0)
}

const stryker = join(root, "node_modules", "@stryker-mutator", "core", "bin", "stryker.js")
/**
 * Where a run keeps its sandbox: a folder of its own under `.stryker-tmp`
 * (Stryker's `tempDirName`), removed when the run ends, so that a stopped
 * run removes its own sandbox and never that of another run going on in the
 * same checkout.
 */
const sandboxOf = (name: string) => join(".stryker-tmp", `${name}-${process.pid}`)

/**
 * Runs Stryker on one package in a process group of its own and resolves
 * with its exit code, or `"stopped"` when `--minutes` ran out. A stop is a
 * SIGINT, on which Stryker saves its partial report and exits without
 * waiting for its test-runner processes; they are ended with the group. The
 * run's sandbox folder (`sandboxOf`) is removed once it ended either way.
 */
const runStryker = (name: string) =>
  new Promise<number | "stopped">((resolve) => {
    const sandbox = sandboxOf(name)
    const child = spawn(process.execPath, [stryker, "run", join("mutation", "stryker.config.mjs"), "--tempDirName", sandbox, ...options], {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, CHAINJOBS_MUTATE_PACKAGE: name },
      detached: true
    })
    let stopped = false
    const stop = () => {
      stopped = true
      child.kill("SIGINT")
    }
    const timer = minutes === undefined ? undefined : setTimeout(stop, minutes * 60_000)
    // Ctrl-C reaches this process only (the group is Stryker's own): pass it on, so the partial report is saved.
    process.on("SIGINT", stop)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      process.off("SIGINT", stop)
      try {
        process.kill(-child.pid!, "SIGTERM")
      } catch {
        // the group is gone already
      }
      rmSync(join(root, sandbox), { recursive: true, force: true })
      resolve(stopped ? "stopped" : code ?? (signal === null ? 1 : 128))
    })
  })

/**
 * The incremental file a run of `name` reads and writes: `--incrementalFile`'s
 * (as `--incrementalFile <path>` or `--incrementalFile=<path>`), else the
 * package's own results file.
 */
const incrementalFileOf = (name: string): string => {
  const at = options.findIndex((option) => option === "--incrementalFile" || option.startsWith("--incrementalFile="))
  if (at === -1) return resultsFileOf(name)
  const option = options[at]!
  return option.includes("=") ? option.slice(option.indexOf("=") + 1) : options[at + 1] ?? resultsFileOf(name)
}

/** The text of the incremental file a run of `name` starts from, if there is one: what `keepResults` stamps the run's results against. */
const resultsBefore = (name: string): string | undefined => {
  const path = resolve(root, incrementalFileOf(name))
  return existsSync(path) ? readFileSync(path, "utf8") : undefined
}

/**
 * Compacts the incremental file a run wrote (`results.ts`' `compact`, each
 * file's results stamped against `previous`, the file before the run), once
 * the run ended; a file the run did not write (a failed dry run, `--force`
 * stopped before any result) is left as it was.
 */
const keepResults = (name: string, startedAt: number, previous: string | undefined): string | undefined => {
  const path = resolve(root, incrementalFileOf(name))
  if (!existsSync(path) || statSync(path).mtimeMs < startedAt) return undefined
  const { after, before } = compact(path, new Date(), previous)
  return `${name}: results in ${relative(root, path)} (${Math.round(after / 1024)} KiB; Stryker wrote ${Math.round(before / 1024)} KiB)`
}

const lines: Array<string> = []
let failed = 0
for (const name of names) {
  console.log(`\n=== mutation testing packages/${name}/src`)
  const startedAt = Date.now()
  const previous = resultsBefore(name)
  const result = await runStryker(name)
  const kept = keepResults(name, startedAt, previous)
  if (kept !== undefined) lines.push(kept)
  if (result !== 0 && result !== "stopped") {
    failed++
    lines.push(`${name}: stryker exited with ${result}`)
    continue
  }
  if (result === "stopped") lines.push(`${name}: stopped${minutes === undefined ? "" : ` after ${minutes} min`}`)
  lines.push(...(readResults(root, name).length === 0 ? [`${name}: no results saved`] : await scoreLines(name)))
}
console.log(`\n=== mutation scores\n${lines.join("\n")}`)
process.exit(failed === 0 ? 0 : 1)
