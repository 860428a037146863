/**
 * `IdleMemory.run` in the test's own process (`IdleMemory.test` runs it in a
 * child process, the real case of a service gone quiet after load): with
 * settings under which every sample is quiet and any resident set counts as
 * grown, it collects each time the quiet time is over, counts each collection
 * and logs the resident set before and after it in MB; `gc` reaches no new
 * context once it has taken its collector; and it collects only when `step`
 * says so: never on a loop that is never quiet, nor with a quiet time of 0.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Logger, Metric, References, Scope } from "effect"
import * as Os from "node:os"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as IdleMemory from "../src/IdleMemory.ts"

/** Every sample quiet (no loop is busy 200% of a sample), any resident set grown (above 0 x the floor). */
const always: IdleMemory.Settings = { quietMillis: 40, sampleMillis: 20, busyBelow: 2, growth: -1 }

/** `typeof gc` in a context made now: V8 gives it `gc` while `--expose-gc` is set. */
const contextGc = () => Vm.runInNewContext("typeof gc") as string

/**
 * Runs `settings` in a scope of its own, with a registry and a debug logger of its own, for `samples` sample
 * periods or until `collections` are counted (looking every sample period), then closes the scope. The
 * collections counted, each debug log's message and fields, and `typeof gc` in a context made while it ran.
 */
const runFor = (settings: IdleMemory.Settings, options: { readonly collections: number; readonly samples: number }) => {
  const logs: Array<{ readonly message: unknown; readonly fields: any }> = []
  const capture = Logger.make<unknown, void>(({ logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    if (logLevel === "Debug") logs.push({ message: parts[0], fields: parts[1] })
  })
  return Effect.gen(function*() {
    const counted = Effect.map(Metric.value(IdleMemory.collections), (state) => state.count)
    const scope = yield* Scope.make()
    yield* Scope.provide(IdleMemory.run(settings), scope)
    const gcWhileRunning = contextGc()
    let count = yield* counted
    for (let looked = 0; count < options.collections && looked < options.samples; looked++) {
      yield* Effect.sleep(settings.sampleMillis)
      count = yield* counted
    }
    yield* Scope.close(scope, Exit.void)
    return { count, logs, gcWhileRunning }
  }).pipe(
    Effect.provide(Logger.layer([capture])),
    Effect.provideService(References.MinimumLogLevel, "Debug"),
    Effect.provideService(Metric.MetricRegistry, new Map())
  )
}

describe("IdleMemory.run in this process", () => {
  it.live("collects each time the quiet time is over, counts it, and logs the resident set before and after in MB", () =>
    Effect.gen(function*() {
      // Another test file of this process may have left `--expose-gc` set (Metrics.test does): start without it.
      V8.setFlagsFromString("--no-expose-gc")
      const { count, gcWhileRunning, logs } = yield* runFor(always, { collections: 2, samples: 1000 })
      assert.isAtLeast(count, 2)
      assert.strictEqual(gcWhileRunning, "undefined", "gc reaches no context made after the collector was taken")
      const handedBack = logs.filter((log) => log.message === "idle: memory handed back")
      assert.isAtLeast(handedBack.length, 2)
      const machineMB = Os.totalmem() / 2 ** 20
      for (const { fields } of handedBack) {
        // This process's resident set, in MB: more than 1, less than the machine's memory.
        for (const level of [fields.rssBeforeMB, fields.rssAfterMB]) {
          assert.isAbove(level, 1, JSON.stringify(fields))
          assert.isBelow(level, machineMB, JSON.stringify(fields))
        }
      }
    }), 60_000)

  it.live("it collects only when step says so: never on a loop that is never quiet, nor with a quiet time of 0", () =>
    Effect.forEach([{ ...always, busyBelow: 0 }, { ...always, quietMillis: 0 }], (settings) =>
      Effect.map(runFor(settings, { collections: 1, samples: 10 }), ({ count, logs }) => {
        assert.strictEqual(count, 0, JSON.stringify(settings))
        assert.deepStrictEqual(logs, [])
      }), { discard: true }), 60_000)
})
