/**
 * The old generation's growth `serve` sets: read from
 * `CHAINJOBS_HEAP_GROWING_PERCENT` (100 unset, 0 for V8's own factor, bad
 * values refused, and by `serve` before it binds); not set at 0 or over a
 * `--heap-growing-percent` given to `node` (on its command line, the only
 * place node takes it: in `NODE_OPTIONS` it refuses to start), set
 * otherwise (another flag of that prefix is not it); and in a real process
 * (`heapGrowthChild.ts`) churning promoted garbage over a live set, set at
 * 100 it makes more full collections and commits a smaller heap than V8's
 * own factor does.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as HeapGrowth from "../src/HeapGrowth.ts"
import { assertReads, childReport, serveRefusal } from "./processSettings.ts"

describe("HeapGrowth", () => {
  it.effect("the percent comes from CHAINJOBS_HEAP_GROWING_PERCENT, 100 unset; a negative or fractional one is refused", () =>
    assertReads(HeapGrowth.percentConfig, "CHAINJOBS_HEAP_GROWING_PERCENT", [[undefined, 100], ["0", 0], ["50", 50], ["-1", "refused"], ["1.5", "refused"]]))

  it("sets nothing at 0, nor over a --heap-growing-percent given to node, in either spelling", () => {
    assert.isFalse(HeapGrowth.apply(0, []))
    assert.isFalse(HeapGrowth.apply(100, ["--heap-growing-percent=30"]))
    assert.isFalse(HeapGrowth.apply(100, ["--inspect", "--heap_growing_percent=30"]))
  })

  it("sets the percent when node was given no --heap-growing-percent (this process: at the service's own 100)", () => {
    assert.isTrue(HeapGrowth.apply(HeapGrowth.defaultPercent, ["--inspect", "--heap-growing-percent-other=1"]))
  })

  it.effect("node takes --heap-growing-percent on its command line only: in NODE_OPTIONS, in either spelling, it refuses to start", () =>
    Effect.forEach(["--heap-growing-percent=30", "--heap_growing_percent=30"], (flag) =>
      Effect.map(nodeWith(flag), ({ code, stderr }) => {
        assert.strictEqual(code, 9, stderr)
        assert.include(stderr, "is not allowed in NODE_OPTIONS")
      }), { discard: true }))
})

/** Runs this `node` on an empty script with `NODE_OPTIONS` set to `options`; its exit code and error output. */
const nodeWith = (options: string) =>
  Effect.promise(() =>
    new Promise<{ readonly code: number | null; readonly stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["-e", ""], { env: { ...process.env, NODE_OPTIONS: options }, stdio: ["ignore", "ignore", "pipe"] })
      let stderr = ""
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
      child.on("close", (code) => resolve({ code, stderr }))
    })
  )

/** Runs `heapGrowthChild.ts` with its arguments; its report. */
const child = (...args: ReadonlyArray<number>) =>
  childReport<{ set: boolean; majors: number; peak: number }>("heapGrowthChild.ts", ...args)

describe("HeapGrowth.apply", () => {
  it.effect("at 100 a process churning promoted garbage collects more often and commits a smaller heap than with V8's own factor", () =>
    Effect.gen(function*() {
      const own = yield* child(0)
      const held = yield* child(100)
      assert.isFalse(own.set)
      assert.isTrue(held.set)
      assert.isAbove(held.majors, own.majors)
      assert.isBelow(held.peak, own.peak)
    }), 120_000)
})

describe("chainjobs serve", () => {
  it.live("reads CHAINJOBS_HEAP_GROWING_PERCENT: a negative one stops it before it binds, with an error naming the variable", () =>
    Effect.map(serveRefusal("CHAINJOBS_HEAP_GROWING_PERCENT", "-1"), (error) => assert.include(error, "CHAINJOBS_HEAP_GROWING_PERCENT")), 40_000)
})
