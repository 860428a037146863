/**
 * The old generation's growth `serve` sets: read from
 * `CHAINJOBS_HEAP_GROWING_PERCENT` (100 unset, 0 for V8's own factor, bad
 * values refused, and by `serve` before it binds); not set at 0 or over a
 * `--heap-growing-percent` given to `node`; and in a real process
 * (`heapGrowthChild.ts`) churning promoted garbage over a live set, set at
 * 100 it makes more full collections and commits a smaller heap than V8's
 * own factor does.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
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
})

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
