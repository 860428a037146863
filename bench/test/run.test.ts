/**
 * `npm run bench`'s runner (`bench/run.ts`): `--help` prints each named
 * bench's head comment and runs nothing; a name that is no bench stops the
 * run before anything starts.
 */
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"

const runner = fileURLToPath(new URL("../run.ts", import.meta.url))

/** Runs `bench/run.ts` with `args`; its exit code and output. A run that went on to start a bench is cut at 60 s. */
const run = (...args: Array<string>) => {
  const result = spawnSync(process.execPath, [runner, ...args], { encoding: "utf8", timeout: 60_000, killSignal: "SIGKILL" })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe("bench/run.ts", () => {
  it("load --help prints load's options and starts nothing", () => {
    const { status, stdout } = run("load", "--help")
    assert.strictEqual(status, 0)
    assert.include(stdout, "=== bench/load.ts")
    assert.include(stdout, "`--full` (or `LOAD_MIX=full`) runs")
    assert.notInclude(stdout, "=== bench/tasks.ts")
    // The mix's own report never begins.
    assert.notInclude(stdout, "whole run")
  })

  it("--help alone prints every bench's head comment", () => {
    const { status, stdout } = run("-h")
    const benches = readdirSync(fileURLToPath(new URL("..", import.meta.url)))
      .filter((file) => file.endsWith(".ts") && file !== "run.ts" && !file.startsWith("_"))
    assert.strictEqual(status, 0)
    assert.strictEqual(stdout.split("\n=== bench/").length - 1, benches.length)
    for (const file of benches) assert.include(stdout, `=== bench/${file}\n`)
  })

  it("a name that is no bench is refused with the list, before anything runs", () => {
    const { status, stdout, stderr } = run("lod", "--full")
    assert.strictEqual(status, 2)
    assert.strictEqual(stdout, "")
    assert.include(stderr, "no such bench: lod.")
    assert.include(stderr, "load")
  })
})
