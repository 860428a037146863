/**
 * Durable throughput, every state change persisted before it is acknowledged:
 * - end to end: no-op tasks submitted through `Tasks` and awaited until
 *   completed, on the memory store, on SQLite (synchronous=FULL; on the
 *   calling thread and on a worker thread) and, when
 *   `CHAINJOBS_TEST_PG_URL` is set, on PostgreSQL; latency is the submit's
 *   acknowledgement;
 * - the store alone: each task inserted pending, updated running, updated
 *   completed, with group commit (many tasks at once sharing transactions)
 *   next to one commit per write (one task at a time); latency is the insert's
 *   acknowledgement.
 * On PostgreSQL every run writes into a schema of its own, `bench_<pid>_<n>`.
 */
import { Task, TaskStore, Tasks } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { Effect, Layer, Redacted, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlTaskStore from "../packages/store-sql/src/SqlTaskStore.ts"
import { fmt, table } from "./_measure.ts"

const TASKS = 20_000
const CONCURRENCY = 1_000
const SEQUENTIAL_TASKS = 300

type StoreLayer = Layer.Layer<TaskStore.TaskStore, unknown>

interface Figures {
  readonly perSecond: number
  readonly ackP50: number
  readonly ackP99: number
}

/**
 * Runs `count` tasks, `concurrency` at a time. `task` returns once the step
 * whose latency is measured was acknowledged, with the rest of the task to run.
 */
const timed = <R>(
  count: number,
  concurrency: number,
  task: (n: number) => Effect.Effect<Effect.Effect<unknown, unknown, R>, unknown, R>
) =>
  Effect.gen(function*() {
    const latencies: Array<number> = []
    const start = performance.now()
    yield* Effect.forEach(Array.from({ length: count }, (_, n) => n), (n) =>
      Effect.gen(function*() {
        const before = performance.now()
        const rest = yield* task(n)
        latencies.push(performance.now() - before)
        yield* rest
      }), { concurrency, discard: true })
    const elapsed = performance.now() - start
    latencies.sort((a, b) => a - b)
    return {
      perSecond: (count * 1000) / elapsed,
      ackP50: latencies[Math.floor(latencies.length * 0.5)],
      ackP99: latencies[Math.floor(latencies.length * 0.99)]
    } satisfies Figures
  })

const Noop = Task.define("noop", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

const endToEnd = (store: StoreLayer) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    return yield* timed(TASKS, CONCURRENCY, (n) => Effect.map(tasks.submit(Noop, { n }), (handle) => handle.await))
  }).pipe(
    Effect.provide(Task.implement(Noop, () => Effect.void).pipe(
      Layer.provideMerge(Tasks.layer({ maxWorkers: CONCURRENCY, shutdownGracePeriod: 0 })),
      Layer.provideMerge(store)
    )),
    Effect.runPromise
  )

const storeAlone = (store: StoreLayer, count: number, concurrency: number) =>
  Effect.gen(function*() {
    const tasks = yield* TaskStore.TaskStore
    return yield* timed(count, concurrency, () => {
      const info = record()
      const running = { ...info, status: "running" as const, startedAt: Date.now() }
      const completed = { ...running, status: "completed" as const, progress: 100, finishedAt: Date.now(), result: info.id }
      return Effect.as(tasks.insert(info), Effect.andThen(tasks.update(running), tasks.update(completed)))
    })
  }).pipe(Effect.provide(store), Effect.runPromise)

const row = (name: string, figures: Figures, writesPerTask?: number) => [
  name,
  fmt(figures.perSecond),
  writesPerTask === undefined ? "" : fmt(figures.perSecond * writesPerTask),
  fmt(figures.ackP50, 2),
  fmt(figures.ackP99, 2)
]

let schemas = 0

const main = async () => {
  const directory = mkdtempSync(join(tmpdir(), "chainjobs-bench-"))
  const sqlite = (worker = false) =>
    SqlTaskStore.layerSqlite({ filename: join(directory, `${++schemas}.db`), synchronous: "FULL", worker })
  const url = process.env.CHAINJOBS_TEST_PG_URL
  const pg = url === undefined ? undefined : () =>
    SqlTaskStore.layerPg({ url: Redacted.make(url), schema: `bench_${process.pid}_${++schemas}`, maxConnections: 4 })
  if (pg === undefined) console.log("PostgreSQL skipped: set CHAINJOBS_TEST_PG_URL to a database URL to include it")
  try {
    console.log(`end to end: ${fmt(TASKS)} no-op tasks, ${fmt(CONCURRENCY)} submitting at once (node ${process.version})`)
    const e2e = [["", "tasks/s", "", "submit ack p50 ms", "p99 ms"]]
    e2e.push(row("memory store", await endToEnd(TaskStore.layerMemory)))
    e2e.push(row("SQLite, synchronous=FULL", await endToEnd(sqlite())))
    e2e.push(row("SQLite on a worker thread", await endToEnd(sqlite(true))))
    if (pg !== undefined) e2e.push(row("PostgreSQL", await endToEnd(pg())))
    table(e2e)

    console.log(`\nthe store alone: task lifecycles (insert, running, completed), every write durable`)
    const alone = [["", "tasks/s", "writes/s", "insert ack p50 ms", "p99 ms"]]
    alone.push(row(`SQLite, group commit (${fmt(CONCURRENCY)} at once)`, await storeAlone(sqlite(), TASKS, CONCURRENCY), 3))
    alone.push(row(`SQLite on a worker thread, group commit`, await storeAlone(sqlite(true), TASKS, CONCURRENCY), 3))
    alone.push(row("SQLite, one commit per write", await storeAlone(sqlite(), SEQUENTIAL_TASKS, 1), 3))
    if (pg !== undefined) {
      alone.push(row(`PostgreSQL, group commit (${fmt(CONCURRENCY)} at once)`, await storeAlone(pg(), TASKS, CONCURRENCY), 3))
      alone.push(row("PostgreSQL, one commit per write", await storeAlone(pg(), SEQUENTIAL_TASKS, 1), 3))
    }
    table(alone)
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
