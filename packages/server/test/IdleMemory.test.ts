/**
 * An idle service hands its memory back: `step` collects only after the
 * whole quiet time, only with the resident set grown past its floor, starts
 * over after a busy sample or a collection, and never with collecting off;
 * and a real process (`idleMemoryChild.ts`) whose old generation filled
 * with garbage under load is collected once it goes quiet, its resident set
 * falling at once (the page pool released, not only the heap shrunk),
 * without `gc` reaching its global or later contexts; `chainjobs serve`
 * runs it, reading its quiet time before it binds.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as IdleMemory from "../src/IdleMemory.ts"
import { assertReads, childReport, serveRefusal } from "./processSettings.ts"

const MB = 2 ** 20
const settings: IdleMemory.Settings = { quietMillis: 1000, sampleMillis: 500, busyBelow: 0.05, growth: 0.25 }
const quiet = (rss: number): IdleMemory.Sample => ({ utilization: 0.01, rss })

/** Runs `samples` through `step` from a floor of 100 MB; the samples after which it collected (0-based). */
const collectedAt = (samples: ReadonlyArray<IdleMemory.Sample>, at: IdleMemory.Settings = settings) => {
  let state = IdleMemory.initial(100 * MB)
  const collections: Array<number> = []
  samples.forEach((sample, i) => {
    const next = IdleMemory.step(at, state, sample)
    state = next.state
    if (next.collect) {
      collections.push(i)
      state = IdleMemory.collected(state, 100 * MB)
    }
  })
  return collections
}

describe("IdleMemory.step", () => {
  it("collects once the loop has been quiet for the whole quiet time, not a sample before", () => {
    assert.deepStrictEqual(collectedAt([quiet(200 * MB)]), [])
    assert.deepStrictEqual(collectedAt([quiet(200 * MB), quiet(200 * MB)]), [1])
  })

  it("a busy sample starts the quiet time over; a loop exactly at the busy share is busy", () => {
    const busy = { utilization: 0.5, rss: 200 * MB }
    const atLimit = { utilization: settings.busyBelow, rss: 200 * MB }
    assert.deepStrictEqual(collectedAt([quiet(200 * MB), busy, quiet(200 * MB), quiet(200 * MB)]), [3])
    assert.deepStrictEqual(collectedAt([quiet(200 * MB), atLimit, quiet(200 * MB)]), [])
  })

  it("a quiet service whose resident set has not grown past its floor by the growth share is left alone", () => {
    assert.deepStrictEqual(collectedAt(Array.from({ length: 10 }, () => quiet(125 * MB))), [])
    assert.deepStrictEqual(collectedAt([quiet(125 * MB), quiet(126 * MB)]), [1])
  })

  it("after a collection the floor is the level it left: the next one waits for new growth and a new quiet time", () => {
    let state = IdleMemory.initial(100 * MB)
    state = IdleMemory.step(settings, state, quiet(300 * MB)).state
    const due = IdleMemory.step(settings, state, quiet(300 * MB))
    assert.isTrue(due.collect)
    state = IdleMemory.collected(due.state, 200 * MB)
    assert.strictEqual(state.floor, 200 * MB)
    // 250 MB is not above 1.25 x 200 MB: nothing, however long the quiet.
    for (let i = 0; i < 5; i++) {
      const next = IdleMemory.step(settings, state, quiet(250 * MB))
      assert.isFalse(next.collect)
      state = next.state
    }
    // Grown past it after a busy sample, a whole quiet time is needed again.
    state = IdleMemory.step(settings, state, { utilization: 0.9, rss: 260 * MB }).state
    const first = IdleMemory.step(settings, state, quiet(260 * MB))
    assert.isFalse(first.collect)
    assert.isTrue(IdleMemory.step(settings, first.state, quiet(260 * MB)).collect)
  })

  it("a collection starts the quiet time over", () => {
    assert.deepStrictEqual(collectedAt([quiet(200 * MB), quiet(200 * MB), quiet(200 * MB), quiet(200 * MB)]), [1, 3])
  })

  it("with a quiet time of 0 it never collects", () => {
    assert.deepStrictEqual(collectedAt(Array.from({ length: 10 }, () => quiet(1000 * MB)), { ...settings, quietMillis: 0 }), [])
  })

  it.effect("the service's quiet time comes from CHAINJOBS_IDLE_COLLECT_SECONDS, 10 s unset; a negative one is refused", () =>
    assertReads(IdleMemory.quietConfig, "CHAINJOBS_IDLE_COLLECT_SECONDS", [[undefined, 10], ["0", 0], ["2.5", 2.5], ["-1", "refused"], ["soon", "refused"]]))
})

/** Runs `idleMemoryChild.ts` with its arguments; its report. */
const child = (...args: ReadonlyArray<number>) =>
  childReport<{ collections: number; start: number; peak: number; end: number; globalGc: string; contextGc: string }>("idleMemoryChild.ts", ...args)

describe("IdleMemory.run", () => {
  it.effect("a process gone quiet after its old generation filled with garbage is collected, and its resident set falls at once", () =>
    Effect.gen(function*() {
      const report = yield* child(300, 60_000)
      assert.strictEqual(report.collections, 1)
      // The heap shrunk and V8's page pool released: a regular full collection leaves the pool resident. Judged on
      // what the busy time added (the process's own start is resident either way, and a loaded machine lets the busy
      // time add less): more than half of it is handed back.
      const shown = `resident ${report.start / MB} MB before, ${report.peak / MB} MB at the peak, ${report.end / MB} MB after`
      assert.isAbove(report.peak - report.start, 16 * MB, `the busy time added too little to judge: ${shown}`)
      assert.isBelow(report.end - report.start, (report.peak - report.start) / 2, shown)
      assert.strictEqual(report.globalGc, "undefined")
      assert.strictEqual(report.contextGc, "undefined")
    }), 120_000)

  it.effect("with collecting off nothing is collected", () =>
    Effect.gen(function*() {
      const report = yield* child(0, 1500)
      assert.strictEqual(report.collections, 0)
    }), 120_000)
})

describe("chainjobs serve", () => {
  it.live("reads CHAINJOBS_IDLE_COLLECT_SECONDS: a negative one stops it before it binds, with an error naming the variable", () =>
    Effect.map(serveRefusal("CHAINJOBS_IDLE_COLLECT_SECONDS", "-1"), (error) => assert.include(error, "CHAINJOBS_IDLE_COLLECT_SECONDS")), 40_000)
})
