/**
 * The core runtime against bare fibers, in one run:
 * - throughput: no-op tasks submitted and completed through `Tasks` (memory
 *   store, every state change written) next to `Effect.forkChild` +
 *   `Fiber.join` of the same count; once with no global limit (like the bare
 *   fibers) and once with the default limit of 100 running tasks;
 * - memory: heap and RSS for 100k concurrent idle tasks next to 100k idle
 *   bare fibers.
 */
import { Effect, Fiber, Layer, Schema } from "effect"
import { Task, TaskStore, Tasks } from "@chainjobs/tasks"
import { fmt, heapUsed, medianRate, perSecond, table } from "./_measure.ts"

const COUNT = 100_000
const RUNS = 5

const Noop = Task.define("noop", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })
const Idle = Task.define("idle", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

const runtime = (maxWorkers: number) =>
  Layer.mergeAll(Task.implement(Noop, () => Effect.void), Task.implement(Idle, () => Effect.never)).pipe(
    Layer.provideMerge(Tasks.layer({ maxWorkers, shutdownGracePeriod: 0 })),
    Layer.provideMerge(TaskStore.layerMemory)
  )

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const start = performance.now()
    yield* effect
    return perSecond(COUNT, performance.now() - start)
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

const main = async () => {
  // warm up both paths once
  await Effect.runPromise(bareFibers)
  await Effect.runPromise(supervisedTasks(COUNT))
  const bare = await medianRate(RUNS, () => Effect.runPromise(bareFibers))
  const supervised = await medianRate(RUNS, () => Effect.runPromise(supervisedTasks(COUNT)))
  const queued = await medianRate(RUNS, () => Effect.runPromise(supervisedTasks(100)))
  console.log(`throughput: ${fmt(COUNT)} no-op tasks, median of ${RUNS} runs (node ${process.version})`)
  table([
    ["", "per second", "ratio"],
    ["bare Effect.forkChild + join", fmt(bare), "1.00"],
    ["Tasks.submit + await, maxWorkers = count", fmt(supervised), fmt(supervised / bare, 2)],
    ["Tasks.submit + await, maxWorkers = 100 (default)", fmt(queued), fmt(queued / bare, 2)]
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
