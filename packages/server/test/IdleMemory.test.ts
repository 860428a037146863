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
import { ConfigProvider, Effect, Exit } from "effect"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { heldPort } from "@chainjobs/tasks/test/ports"
import * as IdleMemory from "../src/IdleMemory.ts"
import { serve } from "./serve.ts"

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
    Effect.gen(function*() {
      const read = (env: Record<string, string>) =>
        Effect.exit(Effect.provideService(
          Effect.gen(function*() {
            return yield* IdleMemory.quietConfig
          }),
          ConfigProvider.ConfigProvider,
          ConfigProvider.fromEnv({ env })
        ))
      assert.deepStrictEqual(yield* read({}), Exit.succeed(10))
      assert.deepStrictEqual(yield* read({ CHAINJOBS_IDLE_COLLECT_SECONDS: "0" }), Exit.succeed(0))
      assert.deepStrictEqual(yield* read({ CHAINJOBS_IDLE_COLLECT_SECONDS: "2.5" }), Exit.succeed(2.5))
      assert.isTrue(Exit.isFailure(yield* read({ CHAINJOBS_IDLE_COLLECT_SECONDS: "-1" })))
      assert.isTrue(Exit.isFailure(yield* read({ CHAINJOBS_IDLE_COLLECT_SECONDS: "soon" })))
    }))
})

/** Runs `idleMemoryChild.ts` with the quiet time (ms) and the longest wait for a collection (ms); its report. */
const child = (quietMillis: number, waitMillis: number) =>
  Effect.promise(() =>
    new Promise<{ collections: number; peak: number; end: number; globalGc: string; contextGc: string }>((resolve, reject) =>
      execFile(
        process.execPath,
        [join(import.meta.dirname, "idleMemoryChild.ts"), String(quietMillis), String(waitMillis)],
        { timeout: 90_000 },
        (error, stdout, stderr) => (error === null ? resolve(JSON.parse(stdout)) : reject(new Error(`${error.message}\n${stderr}`)))
      )
    )
  )

describe("IdleMemory.run", () => {
  it.effect("a process gone quiet after its old generation filled with garbage is collected, and its resident set falls at once", () =>
    Effect.gen(function*() {
      const report = yield* child(300, 60_000)
      assert.strictEqual(report.collections, 1)
      // The heap shrunk and V8's page pool released: a regular full collection leaves the pool resident.
      assert.isBelow(report.end, report.peak / 2, `resident ${report.end / MB} MB after, ${report.peak / MB} MB at the peak`)
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
    Effect.gen(function*() {
      // the port is held: a serve that went on to bind it would fail with ServeError instead
      const port = yield* heldPort
      const error = yield* Effect.flip(serve(port).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { CHAINJOBS_IDLE_COLLECT_SECONDS: "-1" } }))
      ))
      assert.include(String(error), "CHAINJOBS_IDLE_COLLECT_SECONDS")
    }).pipe(Effect.scoped), 40_000)
})
