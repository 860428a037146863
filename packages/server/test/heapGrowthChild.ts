/**
 * A process for `HeapGrowth.test.ts`: applies `HeapGrowth.apply` with the
 * percent given as its argument (0: V8's own factor), then keeps a live set
 * of objects while churning through garbage that lives long enough to be
 * promoted. Prints one JSON line: whether the flag was set, the full
 * collections made, and the largest committed heap seen.
 */
import { constants, PerformanceObserver } from "node:perf_hooks"
import * as V8 from "node:v8"
import * as HeapGrowth from "../src/HeapGrowth.ts"

const set = HeapGrowth.apply(Number(process.argv[2]), [])

let majors = 0
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as { readonly detail?: { readonly kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++
  }
})
observer.observe({ entryTypes: ["gc"] })

const live: Array<{ readonly i: number; readonly text: string }> = []
for (let i = 0; i < 300_000; i++) live.push({ i, text: `live ${i}` })
let window: Array<{ readonly text: string; readonly values: ReadonlyArray<number> }> = []
let peak = 0
for (let i = 0; i < 1500; i++) {
  for (let j = 0; j < 2000; j++) window.push({ text: `item ${i} ${j}`, values: [i, j] })
  if (window.length > 200_000) window = window.slice(100_000)
  peak = Math.max(peak, V8.getHeapStatistics().total_heap_size)
  await new Promise<void>((resolve) => setImmediate(resolve))
}
// The observer's entries of the last collections come in a later turn.
await new Promise<void>((resolve) => setTimeout(resolve, 100))
process.stdout.write(`${JSON.stringify({ set, majors, peak, live: live.length })}\n`)
observer.disconnect()
