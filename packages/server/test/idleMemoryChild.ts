/**
 * A process for `IdleMemory.test.ts`: runs `IdleMemory.run` with the quiet
 * time given as its argument (ms; 0: off) and short samples, makes the old
 * generation fill with garbage for a while (objects that live long enough to
 * be promoted, as a loaded service's do), then goes quiet and waits until
 * `IdleMemory.collections` counts a collection or `waitMillis` passes. Prints
 * one JSON line: the collections counted, the resident set before the busy
 * time, at its peak and right after (before V8's own memory reducer, 8 s at
 * the least, could act),
 * and whether `gc` reached this process's global or a new context.
 */
import { Effect, Exit, Metric, Scope } from "effect"
import * as Vm from "node:vm"
import * as IdleMemory from "../src/IdleMemory.ts"

const quietMillis = Number(process.argv[2])
const waitMillis = Number(process.argv[3])

/** The collections `IdleMemory` has counted so far. */
const collections = () => Effect.runSync(Metric.value(IdleMemory.collections)).count

const scope = Effect.runSync(Scope.make())
Effect.runSync(Scope.provide(IdleMemory.run({ ...IdleMemory.defaults, quietMillis, sampleMillis: 100 }), scope))

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
const pause = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

// Busy: 3 s of turns that each allocate, keeping the newest objects alive long enough to be promoted.
const start = process.memoryUsage.rss()
let peak = start
let window: Array<{ readonly text: string; readonly values: ReadonlyArray<number> }> = []
const busyUntil = performance.now() + 3000
for (let i = 0; performance.now() < busyUntil; i++) {
  for (let j = 0; j < 2000; j++) window.push({ text: `item ${i} ${j}`, values: [i, j, i + j] })
  if (window.length > 400_000) window = window.slice(200_000)
  peak = Math.max(peak, process.memoryUsage.rss())
  await turn()
}
window = []

// Quiet: wait for the collection, or for the time given.
const quietUntil = performance.now() + waitMillis
while (collections() === 0 && performance.now() < quietUntil) await pause(50)

const contextGc: string = Vm.runInNewContext("typeof gc")
process.stdout.write(
  `${JSON.stringify({ collections: collections(), start, peak, end: process.memoryUsage.rss(), globalGc: typeof globalThis.gc, contextGc })}\n`
)
Effect.runSync(Scope.close(scope, Exit.void))
