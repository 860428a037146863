/**
 * Smoke test of every example: runs its main.ts with the pinned Node and
 * compares what it prints with the output its README promises (ids aside).
 */
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const here = import.meta.dirname
const examples = readdirSync(here, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && /^\d\d_/.test(entry.name))
  .map((entry) => entry.name)

const expectedOutput = (readme: string): string => {
  const section = readme.slice(readme.indexOf("Expected output"))
  const match = /```\n([\s\S]*?)```/.exec(section)
  if (match === null) throw new Error("the README has no expected output block")
  return match[1]
}

/** Ids and timings differ from run to run. */
const normalize = (text: string): Array<string> =>
  text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>")
    .replace(/[0-9a-f]{8}-\.\.\./g, "<id>")
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.length > 0)

describe("examples", () => {
  for (const name of examples) {
    it(`${name} prints what its README says`, () => {
      const output = execFileSync(process.execPath, [join(here, name, "main.ts")], { encoding: "utf8", timeout: 60_000 })
      const readme = readFileSync(join(here, name, "README.md"), "utf8")
      expect(normalize(output)).toEqual(normalize(expectedOutput(readme)))
    }, 60_000)
  }
})
