/**
 * How `--report` merges a package's results files (`mergeResults`), and the
 * per-file times `compact` stamps them with: the figures issue 18 reads.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { compact, mergeResults, mutantKey, readResults, type ReportedMutant, type ResultsFile } from "../results.ts"

/** A mutant at line `line` (one replacement there) with a status. */
const mutant = (line: number, status: string): ReportedMutant => ({
  status,
  mutatorName: "ConditionalExpression",
  replacement: "true",
  location: { start: { line, column: 1 }, end: { line, column: 5 } }
})

/** A results file holding one source file, `a.ts`, saved at `savedAt` (each mutant's result produced at `testedAt`, or at its own time in `at`). */
const part = (
  path: string,
  savedAt: number,
  source: string,
  mutants: ReadonlyArray<ReportedMutant>,
  testedAt = savedAt,
  at: Record<number, number> = {}
): ResultsFile => ({
  path,
  savedAt,
  testedAt: { "a.ts": Object.fromEntries(mutants.map((m) => [mutantKey(m), at[m.location.start.line] ?? testedAt])) },
  files: { "a.ts": { source, mutants } }
})

/** The merged view's statuses of `a.ts`, by line, and the results files it used. */
const merged = (reports: ReadonlyArray<ResultsFile>, now = "now") => {
  const { files, from } = mergeResults([...reports].sort((a, b) => b.savedAt - a.savedAt), () => now)
  return { statuses: (files["a.ts"]?.mutants ?? []).map((m) => `${m.location.start.line} ${m.status}`).sort(), from }
}

describe("mergeResults", () => {
  it("a part saved later that carried a file's older results over does not hide another part's later test of it", () => {
    const carried = part("pkg.json", 3_000, "now", [mutant(1, "Survived"), mutant(2, "Killed")], 1_000)
    const later = part("pkg.b.json", 2_000, "now", [mutant(1, "Killed"), mutant(2, "Killed")])
    assert.deepStrictEqual(merged([carried, later]), { statuses: ["1 Killed", "2 Killed"], from: ["pkg.b.json"] })
  })

  it("a part whose run tested one of a file's mutants again does not make its other, carried-over results of the file newer", () => {
    // saved at 3 000: line 2 tested then, line 1's survivor carried over from 1 000
    const mixed = part("pkg.json", 3_000, "now", [mutant(1, "Survived"), mutant(2, "Killed")], 3_000, { 1: 1_000 })
    const later = part("pkg.b.json", 2_000, "now", [mutant(1, "Killed")])
    assert.deepStrictEqual(merged([mixed, later]), { statuses: ["1 Killed", "2 Killed"], from: ["pkg.json", "pkg.b.json"] })
  })

  it("results of a source the file no longer has do not hide those of its current source", () => {
    const stale = part("pkg.json", 3_000, "before", [mutant(1, "Killed"), mutant(2, "Killed")])
    const current = part("pkg.b.json", 2_000, "now", [mutant(1, "Survived")])
    assert.deepStrictEqual(merged([stale, current]), { statuses: ["1 Survived"], from: ["pkg.b.json"] })
  })

  it("parts each holding some of a file's mutants add up, a test's verdict over a finding of no coverage, over a static mutant", () => {
    const uncovered = part("pkg.json", 3_000, "now", [mutant(1, "NoCoverage"), mutant(4, "Ignored")])
    const tested = part("pkg.b.json", 2_000, "now", [mutant(1, "Killed"), mutant(2, "Survived")])
    const other = part("pkg.c.json", 1_000, "now", [mutant(3, "Killed"), mutant(2, "NoCoverage")])
    assert.deepStrictEqual(merged([uncovered, tested, other]), {
      statuses: ["1 Killed", "2 Survived", "3 Killed", "4 Ignored"],
      from: ["pkg.json", "pkg.b.json", "pkg.c.json"]
    })
  })

  it("among equally founded results the one produced last counts", () => {
    const older = part("pkg.json", 1_000, "now", [mutant(1, "Survived")])
    const newer = part("pkg.b.json", 2_000, "now", [mutant(1, "Killed")])
    assert.deepStrictEqual(merged([older, newer]), { statuses: ["1 Killed"], from: ["pkg.b.json"] })
  })

  it("a file no results hold on its current source is taken whole from those that last tested it (else last found any uncovered)", () => {
    const uncoveredOnly = part("pkg.json", 3_000, "older", [mutant(1, "NoCoverage")])
    const tested = part("pkg.b.json", 2_000, "before", [mutant(1, "Killed"), mutant(2, "Survived")])
    assert.deepStrictEqual(merged([uncoveredOnly, tested]), { statuses: ["1 Killed", "2 Survived"], from: ["pkg.b.json"] })
    assert.deepStrictEqual(merged([uncoveredOnly]), { statuses: ["1 NoCoverage"], from: ["pkg.json"] })
  })

  it("a file whose mutants are all static is scored by none, and kept apart", () => {
    const { files, staticOnly } = mergeResults([part("pkg.json", 1_000, "now", [mutant(1, "Ignored")])], () => "now")
    assert.deepStrictEqual([Object.keys(files), Object.keys(staticOnly)], [[], ["a.ts"]])
  })
})

describe("compact's per-file times", () => {
  let root: string | undefined
  afterEach(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true })
  })

  it("a mutant whose source and verdict a run left as they were keeps its time; another is stamped with the save; readResults reads both", () => {
    root = mkdtempSync(join(tmpdir(), "chainjobs-merge-"))
    mkdirSync(join(root, "mutation", "results"), { recursive: true })
    const path = join(root, "mutation", "results", "pkg.json")
    const file = (source: string, status: string) => ({ source, mutants: [{ id: String(Math.random()), ...mutant(1, status) }] })
    // before the run: b.ts stamped at 10:00 (a file's stamp as 24c7718 wrote it), c.ts from a save at 11:00 without a stamp of its own
    const previous = JSON.stringify({
      savedAt: "2026-12-03T11:00:00.000Z",
      testedAt: { "b.ts": "2026-12-03T10:00:00.000Z" },
      files: { "b.ts": file("b", "Killed"), "c.ts": file("c", "Survived"), "d.ts": file("d", "Survived") }
    })
    // the run: b.ts and c.ts carried over (their ids renumbered), d.ts tested again to another verdict, e.ts new
    writeFileSync(path, JSON.stringify({ files: { "b.ts": file("b", "Killed"), "c.ts": file("c", "Survived"), "d.ts": file("d", "Killed"), "e.ts": file("e", "Killed") } }))
    compact(path, new Date("2026-12-03T12:00:00.000Z"), previous)
    const key = mutantKey(mutant(1, "Killed"))
    assert.deepStrictEqual(JSON.parse(readFileSync(path, "utf8")).testedAt, {
      "b.ts": { [key]: "2026-12-03T10:00:00.000Z" },
      "c.ts": { [key]: "2026-12-03T11:00:00.000Z" },
      "d.ts": { [key]: "2026-12-03T12:00:00.000Z" },
      "e.ts": { [key]: "2026-12-03T12:00:00.000Z" }
    })
    // a results file without stamps (before this change): each file at the file's save
    writeFileSync(join(root, "mutation", "results", "pkg.old.json"), JSON.stringify({ savedAt: "2026-12-03T09:00:00.000Z", files: { "b.ts": file("b", "Killed") } }))
    const times = (stamps: Record<string, string>) => Object.fromEntries(Object.entries(stamps).map(([file, time]) => [file, { [key]: Date.parse(time) }]))
    assert.deepStrictEqual(readResults(root, "pkg").map(({ testedAt }) => testedAt), [
      times({ "b.ts": "2026-12-03T10:00:00.000Z", "c.ts": "2026-12-03T11:00:00.000Z", "d.ts": "2026-12-03T12:00:00.000Z", "e.ts": "2026-12-03T12:00:00.000Z" }),
      times({ "b.ts": "2026-12-03T09:00:00.000Z" })
    ])
  })

  it("a kill at vitest's bound tested again to a plain kill (or back) is stamped with the save; one still at the bound keeps its time", () => {
    root = mkdtempSync(join(tmpdir(), "chainjobs-merge-"))
    mkdirSync(join(root, "mutation", "results"), { recursive: true })
    const path = join(root, "mutation", "results", "pkg.json")
    const atBound = "Test timed out in 60000ms."
    const file = (source: string, statusReason?: string) => ({
      source,
      mutants: [{ id: String(Math.random()), ...mutant(1, "Killed"), ...(statusReason === undefined ? {} : { statusReason }) }]
    })
    const previous = JSON.stringify({
      savedAt: "2026-12-03T11:00:00.000Z",
      testedAt: { "b.ts": "2026-12-03T10:00:00.000Z", "c.ts": "2026-12-03T10:00:00.000Z", "d.ts": "2026-12-03T10:00:00.000Z" },
      files: { "b.ts": file("b", atBound), "c.ts": file("c"), "d.ts": file("d", atBound) }
    })
    // the run (a --force): b.ts now killed by an assertion, c.ts now at the bound, d.ts at the bound again
    writeFileSync(path, JSON.stringify({ files: { "b.ts": file("b", "expected 1 to be 2"), "c.ts": file("c", atBound), "d.ts": file("d", atBound) } }))
    compact(path, new Date("2026-12-03T12:00:00.000Z"), previous)
    const key = mutantKey(mutant(1, "Killed"))
    assert.deepStrictEqual(JSON.parse(readFileSync(path, "utf8")).testedAt, {
      "b.ts": { [key]: "2026-12-03T12:00:00.000Z" },
      "c.ts": { [key]: "2026-12-03T12:00:00.000Z" },
      "d.ts": { [key]: "2026-12-03T10:00:00.000Z" }
    })
  })

  it("results a run carried over to a source changed since keep their times, though the lines above them moved", () => {
    root = mkdtempSync(join(tmpdir(), "chainjobs-merge-"))
    mkdirSync(join(root, "mutation", "results"), { recursive: true })
    const path = join(root, "mutation", "results", "pkg.json")
    const at = (line: number, status: string) => ({ id: String(Math.random()), ...mutant(line, status) })
    // before the run: a.ts's three mutants tested at 10:00, on its source then
    const previous = JSON.stringify({
      savedAt: "2026-12-03T11:00:00.000Z",
      testedAt: { "a.ts": Object.fromEntries([1, 2, 3].map((line) => [mutantKey(mutant(line, "Killed")), "2026-12-03T10:00:00.000Z"])) },
      files: { "a.ts": { source: "if (one) {\n  two()\n}", mutants: [at(1, "Killed"), at(2, "Killed"), at(3, "Survived")] } }
    })
    // a.ts changed since by a line added at its top, and the run mutated that line only (a range): Stryker wrote
    // the file with its source now, the new line's mutant as tested, the others carried over, moved down a line
    const source = "const zero = 0\nif (one) {\n  two()\n}"
    writeFileSync(path, JSON.stringify({ files: { "a.ts": { source, mutants: [at(1, "Survived"), at(2, "Killed"), at(3, "Killed"), at(4, "Survived")] } } }))
    compact(path, new Date("2026-12-03T12:00:00.000Z"), previous)
    assert.deepStrictEqual(JSON.parse(readFileSync(path, "utf8")).testedAt["a.ts"], {
      [mutantKey(mutant(1, "Survived"))]: "2026-12-03T12:00:00.000Z",
      [mutantKey(mutant(2, "Killed"))]: "2026-12-03T10:00:00.000Z",
      [mutantKey(mutant(3, "Killed"))]: "2026-12-03T10:00:00.000Z",
      [mutantKey(mutant(4, "Killed"))]: "2026-12-03T10:00:00.000Z"
    })
  })
})
