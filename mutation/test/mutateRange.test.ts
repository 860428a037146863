/**
 * `mutateRange`: the `--mutate` range of a mutant's place, as Stryker reads
 * it — parsed with Stryker's own range pattern, as its project reader does,
 * and given to its instrumenter, it yields the mutant (and the mutants
 * inside its place), where the place copied as a results file writes it
 * leaves the mutant out.
 */
import { Instrumenter } from "@stryker-mutator/instrumenter"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"
import { mutantKey, mutateRange, type ReportedMutant } from "../results.ts"

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))))
// Stryker's own pattern of a `--mutate` range (not among the package's exports): the test reads what Stryker reads
const { MUTATION_RANGE_REGEX } = (await import(
  join(root, "node_modules", "@stryker-mutator", "core", "dist", "src", "fs", "mutate-pattern-constants.js")
)) as { MUTATION_RANGE_REGEX: RegExp }

const silent = () => undefined
const instrumenter = new Instrumenter({
  isTraceEnabled: () => false, isDebugEnabled: () => false, isInfoEnabled: () => false, isWarnEnabled: () => false,
  isErrorEnabled: () => false, isFatalEnabled: () => false,
  trace: silent, debug: silent, info: silent, warn: silent, error: silent, fatal: silent
})

const source = "export const isDone = (status: string): boolean =>\n  status === \"completed\" || status === \"failed\"\n"

/**
 * The mutants of `source` (as a results file places them: lines and columns from 1) that Stryker makes for a
 * `--mutate` argument, its range read as Stryker's project reader reads it (lines from 1, columns from 0).
 */
const mutantsFor = async (argument: string | undefined): Promise<Array<ReportedMutant>> => {
  const range = argument === undefined ? undefined : MUTATION_RANGE_REGEX.exec(argument)
  const mutate = range === undefined || range === null ? true : [{
    start: { line: Number(range[3]) - 1, column: Number(range[4]) },
    end: { line: Number(range[5]) - 1, column: Number(range[6]) }
  }]
  const { mutants } = await instrumenter.instrument([{ name: "a.ts", content: source, mutate }], {
    plugins: null, excludedMutations: [], ignorers: []
  })
  return mutants.map(({ location: { end, start }, mutatorName, replacement }) => ({
    status: "Pending",
    mutatorName,
    replacement,
    location: { start: { line: start.line + 1, column: start.column + 1 }, end: { line: end.line + 1, column: end.column + 1 } }
  }))
}

describe("mutateRange", () => {
  it("names a range from which Stryker makes the mutant itself, for each of a file's mutants", async () => {
    const all = await mutantsFor(undefined)
    assert.isAbove(all.length, 4)
    for (const mutant of all) {
      const made = (await mutantsFor(mutateRange("a.ts", mutant))).map(mutantKey)
      assert.include(made, mutantKey(mutant), mutateRange("a.ts", mutant))
    }
  })

  it("the place as a results file writes it, columns from 1, leaves out the mutant starting at its first column", async () => {
    const [first] = await mutantsFor(undefined)
    const { end, start } = first!.location
    const copied = (await mutantsFor(`a.ts:${start.line}:${start.column}-${end.line}:${end.column}`)).map(mutantKey)
    assert.notInclude(copied, mutantKey(first!))
  })
})
