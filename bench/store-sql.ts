/**
 * The durable task store at the level of `TaskStore`: every task is written
 * three times (inserted pending, updated running, updated completed), each
 * write acknowledged only once committed, on SQLite with synchronous=FULL
 * and, when `CHAINJOBS_TEST_PG_URL` is set, on PostgreSQL.
 * - group commit: many tasks write concurrently and share transactions;
 * - one commit per write: one task at a time, so every write is a commit of its own.
 * Also reports the latency of an acknowledged insert under the concurrent load.
 */
import { type TaskInfo, TaskStore } from "@chainjobs/tasks"
import { Effect, Layer, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlTaskStore from "../packages/store-sql/src/SqlTaskStore.ts"
import { fmt, table } from "./_measure.ts"

const TASKS = 20_000
const CONCURRENCY = 1_000
const SEQUENTIAL_TASKS = 300

let sequence = 0
const newRecord = (): TaskInfo.TaskInfo => {
  sequence++
  return {
    id: `0190${Date.now().toString(16).padStart(12, "0")}-${sequence.toString().padStart(12, "0")}`,
    kind: "bench",
    status: "pending",
    reason: null,
    priority: 0,
    key: null,
    owner: null,
    attempt: 1,
    progress: 0,
    message: null,
    payload: { n: sequence },
    result: null,
    error: null,
    errorMessage: null,
    checkpoint: null,
    createdAt: Date.now(),
    startedAt: null,
    finishedAt: null,
    heartbeatAt: null,
    expiresAt: null
  }
}

interface Figures {
  readonly tasksPerSecond: number
  readonly insertP50: number
  readonly insertP99: number
}

/** Runs `count` task lifecycles, `concurrency` at a time. */
const lifecycles = (count: number, concurrency: number) =>
  Effect.gen(function*() {
    const store = yield* TaskStore.TaskStore
    const latencies: Array<number> = []
    const start = performance.now()
    yield* Effect.forEach(Array.from({ length: count }, newRecord), (info) =>
      Effect.gen(function*() {
        const before = performance.now()
        yield* store.insert(info)
        latencies.push(performance.now() - before)
        const running = { ...info, status: "running" as const, startedAt: Date.now() }
        yield* store.update(running)
        yield* store.update({ ...running, status: "completed", progress: 100, finishedAt: Date.now(), result: info.id })
      }), { concurrency, discard: true })
    const elapsed = performance.now() - start
    latencies.sort((a, b) => a - b)
    return {
      tasksPerSecond: (count * 1000) / elapsed,
      insertP50: latencies[Math.floor(latencies.length * 0.5)],
      insertP99: latencies[Math.floor(latencies.length * 0.99)]
    } satisfies Figures
  })

const measure = (layer: Layer.Layer<TaskStore.TaskStore, unknown>, count: number, concurrency: number) =>
  Effect.runPromise(Effect.provide(lifecycles(count, concurrency), layer))

const row = (name: string, figures: Figures) => [
  name,
  fmt(figures.tasksPerSecond),
  fmt(figures.tasksPerSecond * 3),
  fmt(figures.insertP50, 2),
  fmt(figures.insertP99, 2)
]

const main = async () => {
  const directory = mkdtempSync(join(tmpdir(), "chainjobs-bench-"))
  const sqlite = (name: string, config: SqlTaskStore.SqlTaskStoreConfig = {}) =>
    SqlTaskStore.layerSqlite({ filename: join(directory, `${name}.db`), synchronous: "FULL", ...config })
  const rows = [["", "tasks/s", "writes/s", "insert ack p50 ms", "p99 ms"]]
  try {
    rows.push(row(`SQLite, group commit (${fmt(CONCURRENCY)} concurrent)`, await measure(sqlite("group"), TASKS, CONCURRENCY)))
    rows.push(row("SQLite, one commit per write", await measure(sqlite("single", { maxBatchSize: 1 }), SEQUENTIAL_TASKS, 1)))
    const url = process.env.CHAINJOBS_TEST_PG_URL
    if (url === undefined) {
      console.log("PostgreSQL skipped: set CHAINJOBS_TEST_PG_URL to a database URL to include it")
    } else {
      const pg = (config: SqlTaskStore.SqlTaskStoreConfig = {}) =>
        SqlTaskStore.layerPg({ url: Redacted.make(url), schema: `bench_${process.pid}_${sequence}`, maxConnections: 4, ...config })
      rows.push(row(`PostgreSQL, group commit (${fmt(CONCURRENCY)} concurrent)`, await measure(pg(), TASKS, CONCURRENCY)))
      rows.push(row("PostgreSQL, one commit per write", await measure(pg({ maxBatchSize: 1 }), SEQUENTIAL_TASKS, 1)))
    }
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
  console.log(`store-sql: task lifecycles (insert, running, completed), every write durable (node ${process.version})`)
  table(rows)
}


main().catch((error) => {
  console.error(error)
  process.exit(1)
})
