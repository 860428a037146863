/**
 * The runs `bench/tasks.ts` times, each in a child process of its own: the
 * parent forks this file with the names of the runs it hosts, sends
 * `{ run }` for each round and gets the round's `Rates` back; `{ memory }`
 * answers the heap and RSS of 100k idle tasks or idle bare fibers. A run in
 * a process of its own keeps its own JIT state and heap: neither side's
 * compiled code nor garbage slows the other.
 */
import { Effect, Fiber, Layer, Schema } from "effect"
import { Task, TaskStore, Tasks } from "@chainjobs/tasks"
import { heapUsed, perSecond } from "./_measure.ts"

/** Tasks (or fibers) per round and per memory reading. */
export const COUNT = 100_000

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

/** Rates of one round: by wall clock, and by this process's CPU time (user and system). */
export interface Rates {
  readonly wall: number
  readonly cpu: number
}

/** Times `effect` after a full collection, so each round starts from a clean heap. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.suspend(() => {
    heapUsed()
    const cpu = process.cpuUsage()
    const start = performance.now()
    return Effect.map(effect, (): Rates => {
      const used = process.cpuUsage(cpu)
      return { wall: perSecond(COUNT, performance.now() - start), cpu: perSecond(COUNT, (used.user + used.system) / 1000) }
    })
  })

const bareFibers = (body: (n: number) => Effect.Effect<unknown>) =>
  timed(Effect.gen(function*() {
    const fibers = yield* Effect.forEach(Array.from({ length: COUNT }, (_, n) => n), (n) => Effect.forkChild(body(n)))
    yield* Effect.forEach(fibers, Fiber.join, { discard: true })
  }))

const supervisedTasks = (maxWorkers: number, style: Style) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    return yield* timed(Effect.gen(function*() {
      const handles = yield* Effect.forEach(Array.from({ length: COUNT }, (_, n) => n), (n) => tasks.submit(Noop, { n }))
      yield* Effect.forEach(handles, (handle) => handle.await, { discard: true })
    }))
  }).pipe(Effect.provide(runtime(maxWorkers, style)))

/** Every run by name: a round builds its runtime, submits and awaits `COUNT` tasks (or forks and joins fibers), and closes it. */
export const runs = {
  bare: bareFibers((n) => Effect.sync(() => n)),
  supervised: supervisedTasks(COUNT, "exit"),
  queued: supervisedTasks(100, "exit"),
  bareGen: bareFibers(genBody),
  supervisedGen: supervisedTasks(COUNT, "gen"),
  queuedGen: supervisedTasks(100, "gen")
} satisfies Record<string, Effect.Effect<Rates, unknown>>

/** A run's name. */
export type Run = keyof typeof runs

/** Heap and RSS bytes per idle task or fiber. */
export interface Footprint {
  readonly heap: number
  readonly rss: number
}

/** Heap and RSS per idle task of `count` submitted at once (and still running). */
const idleTasks = (count: number) =>
  Effect.gen(function*() {
    const before = heapUsed()
    const rssBefore = process.memoryUsage().rss
    return yield* Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      for (let n = 0; n < count; n++) yield* tasks.submit(Idle, { n })
      yield* Effect.sleep("10 millis")
      const stats = yield* tasks.stats
      if (stats.running !== count) throw new Error(`expected ${count} running tasks, got ${stats.running}`)
      const after = heapUsed()
      return { heap: (after - before) / count, rss: (process.memoryUsage().rss - rssBefore) / count }
    }).pipe(Effect.provide(runtime(count, "exit")))
  })

/** Heap and RSS per idle bare fiber of `count` forked at once. */
const idleFibers = (count: number) =>
  Effect.gen(function*() {
    const before = heapUsed()
    const rssBefore = process.memoryUsage().rss
    const fibers = yield* Effect.forEach(Array.from({ length: count }, (_, n) => n), () => Effect.forkDetach(Effect.never))
    yield* Effect.sleep("10 millis")
    const footprint = { heap: (heapUsed() - before) / count, rss: (process.memoryUsage().rss - rssBefore) / count }
    yield* Effect.forEach(fibers, Fiber.interrupt, { discard: true })
    return footprint
  })

/**
 * A memory reading in a fresh process, after the same path ran once with 1,000 (so that the code it compiles and
 * the runtime's first allocations are not counted per task).
 */
const footprint = (measure: (count: number) => Effect.Effect<Footprint, unknown>) =>
  Effect.andThen(measure(1_000), measure(COUNT))

/** What the parent asks: one round of a run, or a memory reading. */
export type Request = { readonly run: Run } | { readonly memory: "tasks" | "fibers" }

if (process.send !== undefined) {
  process.on("message", (request: Request) => {
    const effect: Effect.Effect<Rates | Footprint, unknown> = "run" in request
      ? runs[request.run]
      : footprint(request.memory === "tasks" ? idleTasks : idleFibers)
    Effect.runPromise(effect).then(
      (answer) => process.send!(answer),
      (error) => {
        console.error(error)
        process.exit(1)
      }
    )
  })
  process.on("disconnect", () => process.exit(0))
}
