/**
 * The core runtime against bare fibers, in one run:
 * - throughput: no-op tasks submitted and completed through `Tasks` (memory
 *   store, every state change written) next to `Effect.forkChild` +
 *   `Fiber.join` of the same count doing the same work; once with no global
 *   limit (like the bare fibers) and once with the default limit of 100
 *   running tasks. Two handler styles, each against bare fibers running the
 *   same body: one done when called (`Effect.void`, an `Exit`: the supervisor
 *   ends it with no fiber) against `Effect.sync`, and an `Effect.gen` handler
 *   (what users write: it runs in a task fiber) against the same `Effect.gen`
 *   body forked bare. All run side by side, round after round (the order
 *   reversed every other round), so a load that comes and goes on a shared
 *   machine falls on all of them; each ratio is the median of the rounds' own
 *   ratios to its style's bare fibers, by wall clock and by this process's
 *   CPU time (steadier while other work shares the cores);
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

/** The body of the `Effect.gen` style: one step, as the bare fibers' `Effect.sync`. */
const genBody = (n: number) => Effect.gen(function*() {
  yield* Effect.sync(() => n)
})

/** How a row's handler is written: done when called (an `Exit`), or an `Effect.gen` body. */
type Style = "exit" | "gen"

const runtime = (maxWorkers: number, style: Style) =>
  Layer.mergeAll(
    Task.implement(Noop, style === "exit" ? () => Effect.void : ({ n }) => genBody(n)),
    Task.implement(Idle, () => Effect.never)
  ).pipe(
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

const bareFibers = (body: (n: number) => Effect.Effect<unknown>) => timed(Effect.gen(function*() {
  const fibers = yield* Effect.forEach(Array.from({ length: COUNT }, (_, n) => n), (n) => Effect.forkChild(body(n)))
  yield* Effect.forEach(fibers, Fiber.join, { discard: true })
}))

const supervisedTasks = (maxWorkers: number, style: Style) => Effect.gen(function*() {
  const tasks = yield* Tasks.Tasks
  return yield* timed(Effect.gen(function*() {
    const handles = yield* Effect.forEach(Array.from({ length: COUNT }, (_, n) => n), (n) => tasks.submit(Noop, { n }))
    yield* Effect.forEach(handles, (handle) => handle.await, { discard: true })
  }))
}).pipe(Effect.provide(runtime(maxWorkers, style)))

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
  }).pipe(Effect.provide(runtime(COUNT, "exit")))
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
    bare: () => Effect.runPromise(bareFibers((n) => Effect.sync(() => n))),
    supervised: () => Effect.runPromise(supervisedTasks(COUNT, "exit")),
    queued: () => Effect.runPromise(supervisedTasks(100, "exit")),
    bareGen: () => Effect.runPromise(bareFibers(genBody)),
    supervisedGen: () => Effect.runPromise(supervisedTasks(COUNT, "gen")),
    queuedGen: () => Effect.runPromise(supervisedTasks(100, "gen"))
  }
  type Run = keyof typeof runs
  const names = Object.keys(runs) as Array<Run>
  // warm up every path once
  for (const run of Object.values(runs)) await run()
  const rates = Object.fromEntries(names.map((name) => [name, []])) as unknown as Record<Run, Array<Rates>>
  const load = loadavg()[0]
  for (let round = 0; round < RUNS; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse()
    for (const run of order) rates[run].push(await runs[run]())
  }
  /** A row: the median rate, and the median of the rounds' ratios to `baseline` (the bare fibers of its style). */
  const row = (label: string, run: Run, baseline: Run) => {
    const ratios = (by: keyof Rates) => median(rates[run].map((r, round) => r[by] / rates[baseline][round][by]))
    return [label, fmt(median(rates[run].map((r) => r.wall))), fmt(ratios("wall"), 2), fmt(ratios("cpu"), 2)]
  }
  console.log(
    `throughput: ${fmt(COUNT)} no-op tasks, ${RUNS} rounds side by side, medians (node ${process.version}, ` +
      `load average ${load.toFixed(1)} → ${loadavg()[0].toFixed(1)})`
  )
  table([
    ["", "per second", "ratio", "CPU ratio"],
    row("bare Effect.forkChild(Effect.sync) + join", "bare", "bare"),
    row("Tasks.submit + await, maxWorkers = count", "supervised", "bare"),
    row("Tasks.submit + await, maxWorkers = 100 (default)", "queued", "bare"),
    row("bare Effect.forkChild(Effect.gen) + join", "bareGen", "bareGen"),
    row("Effect.gen handler, maxWorkers = count", "supervisedGen", "bareGen"),
    row("Effect.gen handler, maxWorkers = 100 (default)", "queuedGen", "bareGen")
  ])
  console.log(
    `Effect.gen handler against bare Effect.sync fibers (CPU): ` +
      `${fmt(median(rates.supervisedGen.map((r, round) => r.cpu / rates.bare[round].cpu)), 2)} / ` +
      `${fmt(median(rates.queuedGen.map((r, round) => r.cpu / rates.bare[round].cpu)), 2)}`
  )
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
