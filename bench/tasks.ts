/**
 * The core runtime against bare fibers, in one run:
 * - throughput: no-op tasks submitted and completed through `Tasks` (memory
 *   store, every state change written) next to `Effect.forkChild` +
 *   `Fiber.join` of the same count; once with no global limit (like the bare
 *   fibers) and once with the default limit of 100 running tasks. The three
 *   run side by side, round after round (the order reversed every other
 *   round), so a load that comes and goes on a shared machine falls on all of
 *   them; each ratio is the median of the rounds' own ratios, by wall clock
 *   and by this process's CPU time (steadier while other work shares the cores);
 * - memory: heap and RSS for 100k concurrent idle tasks next to 100k idle
 *   bare fibers.
 */
import { Effect, Fiber, Layer, Schema } from "effect"
import { Task, TaskStore, Tasks } from "@chainjobs/tasks"
import { loadavg } from "node:os"
import { fmt, heapUsed, perSecond, table } from "./_measure.ts"

const COUNT = 100_000
const RUNS = 7

const Noop = Task.define("noop", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })
const Idle = Task.define("idle", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

const runtime = (maxWorkers: number) =>
  Layer.mergeAll(Task.implement(Noop, () => Effect.void), Task.implement(Idle, () => Effect.never)).pipe(
    Layer.provideMerge(Tasks.layer({ maxWorkers, shutdownGracePeriod: 0 })),
    Layer.provideMerge(TaskStore.layerMemory)
  )

/** Rates of one run: by wall clock, and by this process's CPU time (user and system). */
interface Rates {
  readonly wall: number
  readonly cpu: number
}

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const cpu = process.cpuUsage()
    const start = performance.now()
    yield* effect
    const used = process.cpuUsage(cpu)
    return { wall: perSecond(COUNT, performance.now() - start), cpu: perSecond(COUNT, (used.user + used.system) / 1000) }
  })

const bareFibers = timed(Effect.gen(function*() {
  const fibers = yield* Effect.forEach(Array.from({ length: COUNT }, (_, n) => n), (n) => Effect.forkChild(Effect.sync(() => n)))
  yield* Effect.forEach(fibers, Fiber.join, { discard: true })
}))

const supervisedTasks = (maxWorkers: number) => Effect.gen(function*() {
  const tasks = yield* Tasks.Tasks
  return yield* timed(Effect.gen(function*() {
    const handles = yield* Effect.forEach(Array.from({ length: COUNT }, (_, n) => n), (n) => tasks.submit(Noop, { n }))
    yield* Effect.forEach(handles, (handle) => handle.await, { discard: true })
  }))
}).pipe(Effect.provide(runtime(maxWorkers)))

const idleTasks = Effect.gen(function*() {
  const before = heapUsed()
  const rssBefore = process.memoryUsage().rss
  yield* Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    for (let n = 0; n < COUNT; n++) yield* tasks.submit(Idle, { n })
    yield* Effect.sleep("10 millis")
    const stats = yield* tasks.stats
    if (stats.running !== COUNT) throw new Error(`expected ${COUNT} running tasks, got ${stats.running}`)
    const after = heapUsed()
    console.log(`idle tasks: ${fmt(stats.running)} running`)
    result.tasksHeap = (after - before) / COUNT
    result.tasksRss = (process.memoryUsage().rss - rssBefore) / COUNT
  }).pipe(Effect.provide(runtime(COUNT)))
})

const idleFibers = Effect.gen(function*() {
  const before = heapUsed()
  const rssBefore = process.memoryUsage().rss
  const fibers = yield* Effect.forEach(Array.from({ length: COUNT }, (_, n) => n), () => Effect.forkDetach(Effect.never))
  yield* Effect.sleep("10 millis")
  result.fibersHeap = (heapUsed() - before) / COUNT
  result.fibersRss = (process.memoryUsage().rss - rssBefore) / COUNT
  yield* Effect.forEach(fibers, Fiber.interrupt, { discard: true })
})

const result = { tasksHeap: 0, tasksRss: 0, fibersHeap: 0, fibersRss: 0 }

const median = (values: ReadonlyArray<number>): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const main = async () => {
  const runs = {
    bare: () => Effect.runPromise(bareFibers),
    supervised: () => Effect.runPromise(supervisedTasks(COUNT)),
    queued: () => Effect.runPromise(supervisedTasks(100))
  }
  type Run = keyof typeof runs
  // warm up every path once
  for (const run of Object.values(runs)) await run()
  const rates: Record<Run, Array<Rates>> = { bare: [], supervised: [], queued: [] }
  const load = loadavg()[0]
  for (let round = 0; round < RUNS; round++) {
    const order: ReadonlyArray<Run> = round % 2 === 0 ? ["bare", "supervised", "queued"] : ["queued", "supervised", "bare"]
    for (const run of order) rates[run].push(await runs[run]())
  }
  const row = (label: string, run: Run) => {
    const ratios = (by: keyof Rates) => median(rates[run].map((r, round) => r[by] / rates.bare[round][by]))
    return [label, fmt(median(rates[run].map((r) => r.wall))), fmt(ratios("wall"), 2), fmt(ratios("cpu"), 2)]
  }
  console.log(
    `throughput: ${fmt(COUNT)} no-op tasks, ${RUNS} rounds side by side, medians (node ${process.version}, ` +
      `load average ${load.toFixed(1)} → ${loadavg()[0].toFixed(1)})`
  )
  table([
    ["", "per second", "ratio", "CPU ratio"],
    row("bare Effect.forkChild + join", "bare"),
    row("Tasks.submit + await, maxWorkers = count", "supervised"),
    row("Tasks.submit + await, maxWorkers = 100 (default)", "queued")
  ])
  await Effect.runPromise(idleFibers)
  await Effect.runPromise(idleTasks)
  console.log(`\nmemory: ${fmt(COUNT)} concurrent idle tasks`)
  table([
    ["", "heap bytes each", "RSS bytes each"],
    ["bare idle fibers (forkDetach)", fmt(result.fibersHeap), fmt(result.fibersRss)],
    ["idle supervised tasks", fmt(result.tasksHeap), fmt(result.tasksRss)]
  ])
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
