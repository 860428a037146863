/**
 * What PostgreSQL spends on a task's writes: N no-op tasks through
 * `Tasks.submitAll` (batches of 1,000, two in flight, the store's
 * `batchesInFlight: 2`, as `queues` runs `chainjobs-pg-batch`), each
 * inserted running and then completed. Reported per 1,000 tasks: the
 * PostgreSQL backends' CPU (`_pgServerCpu.ts`) and this process's, and of
 * the task table: the share of its updates PostgreSQL made heap-only (HOT:
 * no index entry added; `pg_stat_user_tables.n_tup_hot_upd` over
 * `n_tup_upd`) and its size with its indexes afterwards.
 *
 * `--baseline <dir>` runs a second store beside this one: a copy of
 * `packages/store-sql/src` from another revision, inside the repository so
 * that its imports resolve, e.g.
 * `mkdir -p packages/store-sql/.base && git archive main packages/store-sql/src | tar -x --strip-components=3 -C packages/store-sql/.base`.
 * The two alternate, round after round (`--rounds`, default 3), each round
 * in a fresh schema, and each one's median round is reported with the load
 * average. Needs `CHAINJOBS_TEST_PG_URL` (or `--pg <url>`).
 *
 * `npm run bench -- completions [--baseline <dir>] [--rounds n] [--tasks n]`
 */
import { Task, Tasks } from "@chainjobs/tasks"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { loadavg } from "node:os"
import { resolve } from "node:path"
import { fileURLToPath } from "node:url"
import type * as SqlTaskStoreModule from "../packages/store-sql/src/SqlTaskStore.ts"
import { fmt, table } from "./_measure.ts"
import { measureServerCpu } from "./_pgServerCpu.ts"

const option = (name: string): string | undefined => {
  const flag = process.argv.indexOf(name)
  return flag >= 0 ? process.argv[flag + 1] : undefined
}

const TASKS = Number(option("--tasks") ?? 20_000)
const ROUNDS = Number(option("--rounds") ?? 3)
const BATCH = 1_000
const IN_FLIGHT = 2
const url = option("--pg") ?? process.env.CHAINJOBS_TEST_PG_URL
const database = url === undefined ? "" : decodeURIComponent(new URL(url).pathname.slice(1))

/** The figures of one round. */
interface Round {
  readonly tasksPerSecond: number
  readonly serverCpu: number | undefined
  readonly ownCpu: number
  readonly hotShare: number
  readonly bytes: number
}

const Noop = Task.define("noop", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** On a connection of its own to the bench database. */
const onDatabase = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  effect.pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url!), maxConnections: 1 })), Effect.runPromise)

/** The task table's updates and HOT updates as the statistics have them, once they count `updates`, and its size. */
const tableFigures = (schema: string, updates: number) =>
  onDatabase(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // The store's backends report their statistics when they end (or within seconds of going idle).
    for (let tries = 0;; tries++) {
      const rows = yield* sql<{ readonly upd: string; readonly hot: string; readonly bytes: string }>`
        SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot, pg_total_relation_size(relid) AS bytes
        FROM pg_stat_user_tables WHERE schemaname = ${schema} AND relname = 'chainjobs_tasks'`
      const row = rows[0]
      if (row !== undefined && (Number(row.upd) >= updates || tries >= 100)) {
        return { hotShare: Number(row.hot) / Math.max(1, Number(row.upd)), bytes: Number(row.bytes) }
      }
      yield* Effect.sleep("200 millis")
    }
  }))

const dropSchema = (schema: string) =>
  onDatabase(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  }))

/** One round of `store` in schema `schema`. */
const round = async (store: typeof SqlTaskStoreModule, schema: string): Promise<Round> => {
  const program = Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const server = measureServerCpu(database)
    const cpu = process.cpuUsage()
    const start = performance.now()
    yield* Effect.forEach(range(TASKS / BATCH), (b) =>
      Effect.gen(function*() {
        const handles = yield* tasks.submitAll(Noop, range(BATCH).map((n) => ({ n: b * BATCH + n })))
        yield* Effect.forEach(handles, (handle) => handle.await, { concurrency: "unbounded", discard: true })
      }), { concurrency: IN_FLIGHT, discard: true })
    const millis = performance.now() - start
    const own = process.cpuUsage(cpu)
    const serverMillis = server?.()
    return {
      tasksPerSecond: (TASKS * 1000) / millis,
      serverCpu: serverMillis === undefined ? undefined : (serverMillis * 1000) / TASKS,
      ownCpu: (own.user + own.system) / TASKS
    }
  })
  const layer = Task.implement(Noop, () => Effect.void).pipe(
    Layer.provideMerge(Tasks.layer({ maxWorkers: BATCH * IN_FLIGHT, shutdownGracePeriod: 0 })),
    Layer.provideMerge(store.layerPg({ url: Redacted.make(url!), schema, maxConnections: 4, batchesInFlight: 2 }))
  )
  const figures = await Effect.runPromise(program.pipe(Effect.provide(layer)))
  return { ...figures, ...(await tableFigures(schema, TASKS)) }
}

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[values.length >> 1]

const main = async () => {
  if (url === undefined) {
    console.log("completions: skipped, set CHAINJOBS_TEST_PG_URL")
    return
  }
  const here = fileURLToPath(new URL(".", import.meta.url))
  const baseline = option("--baseline")
  const variants: Array<readonly [string, string]> = [
    ...(baseline === undefined ? [] : [["baseline", resolve(baseline, "SqlTaskStore.ts")] as const]),
    ["this", resolve(here, "../packages/store-sql/src/SqlTaskStore.ts")]
  ]
  const stores = await Promise.all(variants.map(([, path]) => import(path) as Promise<typeof SqlTaskStoreModule>))
  const rounds: Array<Array<Round>> = variants.map(() => [])
  const loads: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    for (let v = 0; v < variants.length; v++) {
      const schema = `bench_completions_${process.pid}_${r}_${v}`
      loads.push(loadavg()[0])
      try {
        rounds[v].push(await round(stores[v], schema))
      } finally {
        await dropSchema(schema)
      }
      const last = rounds[v][r]
      console.log(
        `round ${r + 1} ${variants[v][0]}: ${fmt(last.tasksPerSecond)} tasks/s, server ${fmt(last.serverCpu ?? NaN, 1)} ms/1k, ` +
          `own ${fmt(last.ownCpu, 1)} ms/1k, HOT ${(last.hotShare * 100).toFixed(1)}%, ${fmt(last.bytes / 1024)} KB (load ${loadavg()[0].toFixed(1)})`
      )
    }
  }
  console.log(`\n${TASKS.toLocaleString("en")} no-op tasks, submitAll ×${BATCH}, ${IN_FLIGHT} in flight; median of ${ROUNDS} rounds, load ${
    Math.min(...loads).toFixed(1)
  }–${Math.max(...loads).toFixed(1)}`)
  table([
    ["store", "tasks/s", "PG server CPU ms / 1k", "own CPU ms / 1k", "HOT updates", "table + indexes"],
    ...variants.map(([name], v) => {
      const all = rounds[v]
      return [
        name,
        fmt(median(all.map((f) => f.tasksPerSecond))),
        all.every((f) => f.serverCpu !== undefined) ? fmt(median(all.map((f) => f.serverCpu!)), 1) : "—",
        fmt(median(all.map((f) => f.ownCpu)), 1),
        `${(median(all.map((f) => f.hotShare)) * 100).toFixed(1)}%`,
        `${fmt(median(all.map((f) => f.bytes)) / 1024)} KB`
      ]
    })
  ])
}

await main()
