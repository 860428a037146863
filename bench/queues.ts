/**
 * chainjobs beside the job queues people would pick instead, in one run and
 * one table: N no-op jobs enqueued, processed and completed, every completion
 * durable where the system offers it, each system in a process of its own.
 *
 * - chainjobs on SQLite (a file, `synchronous = FULL`) and on PostgreSQL:
 *   `Tasks.submit` from 1,000 concurrent submitters sharing group commits, and
 *   `Tasks.submitAll` in batches of 1,000, two calls in flight, each awaiting
 *   its tasks before sending its next batch (on PostgreSQL with the store's
 *   `batchesInFlight: 2`, its documented setting for throughput: measured at
 *   load 15–21, 2,381 / 2,489 / 2,554 tasks/s against 1,970 / 1,735 / 2,023
 *   with one batch at a time, and 4 in flight did worse than 2; either way a task is
 *   acknowledged only once its record is committed, and its waiter told only
 *   once its completion is);
 *   a task counts when its `await` returned. "lone submission" is one
 *   submitter at a time on SQLite: its acknowledgement is one commit. On
 *   PostgreSQL `submit` runs twice: with the store's default of one batch
 *   being written at a time, and with `batchesInFlight: 2` (a batch sharing
 *   no id with the one being committed starts while it commits).
 * - graphile-worker on the same PostgreSQL, through `addJobs`, tuned as its
 *   performance page recommends (the configuration of its published figures):
 *   `concurrentJobs: 24`, `maxPoolSize: 25`, `localQueue: { size: 500 }`,
 *   `completeJobBatchDelay: 0`, `failJobBatchDelay: 0`. A job counts once its
 *   row is gone from the jobs table (`job:complete` fires before a batched
 *   completion is written, so the bench waits for the table to empty).
 * - pg-boss on the same PostgreSQL, through `insert`, with a batch handler as
 *   its worker documentation describes for throughput: `batchSize: 100`,
 *   `localConcurrency: 2`, `burstWhenBatchFull: true` (fetch again at once
 *   while batches come back full). A job counts once its row says `completed`.
 * - BullMQ through `addBulk`, on a `redis-server` this bench starts on a free
 *   127.0.0.1 port with persistence off (`--save "" --appendonly no`) and
 *   `maxmemory-policy noeviction` (its production guide: the only policy under
 *   which queues work); worker `concurrency: 50`, `removeOnComplete: true`
 *   (auto-removal, as its guide recommends). Redis without persistence keeps
 *   nothing durable: BullMQ is here as the in-memory queue people pick for
 *   speed. A job counts when the worker's `completed` event fired (after the
 *   job moved to completed in Redis). Skipped when `redis-server` is missing.
 *
 * "CPU ms / 1k" is the processor time the system's own process (producer and
 * workers; not the database server) spent per 1,000 jobs: steadier than
 * tasks/s on a machine shared with other work. "PG server CPU ms / 1k" is
 * what the PostgreSQL backends serving the bench database spent meanwhile
 * (on Linux, from `/proc`; see `_pgServerCpu.ts`): on a machine whose cores
 * both sides share, their sum per task decides.
 *
 * The peers enqueue in bulk, batches of 1,000, one call at a time while their
 * workers run; each job's acknowledgement is its batch call's. PostgreSQL is
 * the database `CHAINJOBS_TEST_PG_URL` (or `--pg <url>`) names; each system
 * writes into a schema of its own, dropped afterwards.
 *
 * `npm run bench -- queues`; `node bench/queues.ts --rounds 3` runs every
 * system three times, round after round (so a load that comes and goes on a
 * shared machine falls on all of them), and reports each one's median round;
 * `--turn-budget <ms>` runs chainjobs' systems on the service's scheduler
 * (`TurnScheduler`, as `chainjobs serve` does, with that budget per turn)
 * instead of Effect's own, the library's as an application embeds it;
 * `node bench/queues.ts <system>` runs one system and prints its figures as
 * JSON.
 */
import { Task, Tasks } from "@chainjobs/tasks"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, Scheduler, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as TurnScheduler from "../packages/server/src/TurnScheduler.ts"
import * as SqlTaskStore from "../packages/store-sql/src/SqlTaskStore.ts"
import { fmt, type LatencyFigures, latencyFigures, table } from "./_measure.ts"
import { measureServerCpu } from "./_pgServerCpu.ts"

const TASKS = 20_000
const SUBMITTERS = 1_000
const BATCH = 1_000
const LONE = 500
const BATCHES_IN_FLIGHT = 2
/** The PostgreSQL store's `batchesInFlight` where a row says so. */
const STORE_BATCHES_IN_FLIGHT = 2

const systems = [
  "chainjobs-sqlite",
  "chainjobs-sqlite-batch",
  "chainjobs-sqlite-lone",
  "chainjobs-pg",
  "chainjobs-pg-flight",
  "chainjobs-pg-batch",
  "graphile-worker",
  "pg-boss",
  "bullmq"
] as const
type System = (typeof systems)[number]

const labels: Record<System, string> = {
  "chainjobs-sqlite": "chainjobs, SQLite FULL, submit ×1,000 at once",
  "chainjobs-sqlite-batch": "chainjobs, SQLite FULL, submitAll ×1,000",
  "chainjobs-sqlite-lone": "chainjobs, SQLite FULL, lone submission",
  "chainjobs-pg": "chainjobs, PostgreSQL, submit ×1,000 at once",
  "chainjobs-pg-flight": "chainjobs, PostgreSQL, submit ×1,000, 2 batches in flight",
  "chainjobs-pg-batch": "chainjobs, PostgreSQL, submitAll ×1,000, 2 batches in flight",
  "graphile-worker": "graphile-worker, tuned, addJobs ×1,000",
  "pg-boss": "pg-boss, insert ×1,000, batch fetch 100 × 2",
  "bullmq": "BullMQ, Redis w/o persistence, addBulk ×1,000"
}

/**
 * What a child reports: figures (with the PostgreSQL server's processor time
 * per 1,000 jobs, for a system on it, where it could be read), or why the
 * system was skipped.
 */
type Report = { readonly figures: LatencyFigures; readonly serverCpuPerThousand?: number | undefined } | { readonly skipped: string }

const option = (name: string): string | undefined => {
  const flag = process.argv.indexOf(name)
  return flag >= 0 ? process.argv[flag + 1] : undefined
}

const pgUrl = (): string | undefined => option("--pg") ?? process.env.CHAINJOBS_TEST_PG_URL

/** `--turn-budget <ms>`: chainjobs' systems on a `TurnScheduler` of that budget; unset, on Effect's own scheduler. */
const turnBudget = (): number | undefined => {
  const value = option("--turn-budget")
  return value === undefined ? undefined : Number(value)
}

/** Runs `effect` on the scheduler `--turn-budget` names (Effect's own when unset). */
const onScheduler = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  const budget = turnBudget()
  return budget === undefined ? effect : Effect.provideService(effect, Scheduler.Scheduler, TurnScheduler.make(budget))
}

/**
 * Starts measuring the PostgreSQL server's processor time for the bench
 * database (see `measureServerCpu`); the function returned gives it per
 * 1,000 of `count` jobs, or undefined where it cannot be read.
 */
const serverCpu = (count: number): () => number | undefined => {
  const url = pgUrl()
  const stop = url === undefined ? undefined : measureServerCpu(decodeURIComponent(new URL(url).pathname.slice(1)))
  return () => (stop === undefined ? undefined : (stop() * 1000) / count)
}

const schemaName = (system: string) => `bench_${system.replaceAll("-", "_")}_${process.pid}`

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  range(Math.ceil(items.length / size)).map((i) => items.slice(i * size, (i + 1) * size))

/**
 * Enqueues `count` jobs in bulk, `BATCH` per call and one call at a time,
 * then waits for `done`; every job of a batch is acknowledged when its call
 * returned.
 */
const bulk = async (
  count: number,
  enqueue: (ns: ReadonlyArray<number>) => Promise<unknown>,
  done: () => Promise<void>,
  onPg = true
): Promise<Report> => {
  const latencies: Array<number> = []
  const server = onPg ? serverCpu(count) : () => undefined
  const cpu = process.cpuUsage()
  const start = performance.now()
  for (const batch of chunks(range(count), BATCH)) {
    const before = performance.now()
    await enqueue(batch)
    const latency = performance.now() - before
    for (let i = 0; i < batch.length; i++) latencies.push(latency)
  }
  await done()
  const figures = latencyFigures(latencies, count, performance.now() - start, process.cpuUsage(cpu))
  return { figures, serverCpuPerThousand: server() }
}

/** Resolves once `check` answers true, asking every `millis`. */
const until = async (check: () => Promise<boolean>, millis = 5) => {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, millis))
}

/** A promise and the function that resolves it. */
const signal = () => {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

// ---------------------------------------------------------------------------
// chainjobs
// ---------------------------------------------------------------------------

const Noop = Task.define("noop", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

const chainjobs = (store: "sqlite" | "pg", mode: "submit" | "batch" | "lone", batchesInFlight = 1): Promise<Report> => {
  const url = pgUrl()
  if (store === "pg" && url === undefined) return Promise.resolve({ skipped: "set CHAINJOBS_TEST_PG_URL" })
  const directory = mkdtempSync(join(tmpdir(), "chainjobs-queues-"))
  const schema = schemaName(`chainjobs_${mode}`)
  const storeLayer = store === "sqlite"
    ? SqlTaskStore.layerSqlite({ filename: join(directory, "tasks.db"), synchronous: "FULL" })
    : SqlTaskStore.layerPg({ url: Redacted.make(url!), schema, maxConnections: 4, batchesInFlight })
  const count = mode === "lone" ? LONE : TASKS
  const program = Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const latencies: Array<number> = []
    const server = store === "pg" ? serverCpu(count) : () => undefined
    const cpu = process.cpuUsage()
    const start = performance.now()
    if (mode === "batch") {
      // Two bulk calls in flight, each one's tasks awaited before its submitter sends the next batch.
      yield* Effect.forEach(chunks(range(count), BATCH), (batch) =>
        Effect.gen(function*() {
          const before = performance.now()
          const handles = yield* tasks.submitAll(Noop, batch.map((n) => ({ n })))
          const latency = performance.now() - before
          for (let i = 0; i < batch.length; i++) latencies.push(latency)
          yield* Effect.forEach(handles, (handle) => handle.await, { concurrency: "unbounded", discard: true })
        }), { concurrency: BATCHES_IN_FLIGHT, discard: true })
    } else {
      yield* Effect.forEach(range(count), (n) =>
        Effect.gen(function*() {
          const before = performance.now()
          const handle = yield* tasks.submit(Noop, { n })
          latencies.push(performance.now() - before)
          yield* handle.await
        }), { concurrency: mode === "lone" ? 1 : SUBMITTERS, discard: true })
    }
    const figures = latencyFigures(latencies, count, performance.now() - start, process.cpuUsage(cpu))
    return { figures, serverCpuPerThousand: server() } satisfies Report
  })
  const cleanup = store === "pg"
    ? Effect.promise(() => dropSchema(url!, schema))
    : Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
  return program.pipe(
    Effect.provide(Task.implement(Noop, () => Effect.void).pipe(
      // Room for every task in flight: each starts at once (see `Tasks.submit`).
      Layer.provideMerge(Tasks.layer({ maxWorkers: Math.max(SUBMITTERS, BATCH * BATCHES_IN_FLIGHT), shutdownGracePeriod: 0 })),
      Layer.provideMerge(storeLayer)
    )),
    Effect.ensuring(cleanup),
    onScheduler,
    Effect.runPromise
  )
}

/** Drops a schema a run wrote into. */
const dropSchema = (url: string, schema: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`DROP SCHEMA IF EXISTS "${schema.replaceAll("\"", "\"\"")}" CASCADE`)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.runPromise)

// ---------------------------------------------------------------------------
// graphile-worker
// ---------------------------------------------------------------------------

const graphileWorker = async (): Promise<Report> => {
  const url = pgUrl()
  if (url === undefined) return { skipped: "set CHAINJOBS_TEST_PG_URL" }
  const { Logger, makeWorkerUtils, run } = await import("graphile-worker")
  const schema = schemaName("graphile")
  const silent = new Logger(() => () => {})
  let processed = 0
  const all = signal()
  // The worker's own pool is for the worker; jobs are added through utils of their own, as a producer would.
  const utils = await makeWorkerUtils({ connectionString: url, schema, logger: silent })
  const runner = await run({
    connectionString: url,
    schema,
    concurrency: 24,
    maxPoolSize: 25,
    noHandleSignals: true,
    logger: silent,
    preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    taskList: {
      noop: async () => {
        if (++processed === TASKS) all.resolve()
      }
    }
  })
  try {
    return await bulk(
      TASKS,
      (ns) => utils.addJobs(ns.map((n) => ({ identifier: "noop", payload: { n } }))),
      async () => {
        await all.promise
        // Completions are written in batches after the handler returned: done once no job row is left.
        await until(async () => {
          const { rows } = await utils.withPgClient((client) =>
            client.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}"._private_jobs`)
          )
          return Number(rows[0].n) === 0
        })
      }
    )
  } finally {
    await runner.stop()
    await utils.release()
    await dropSchema(url, schema)
  }
}

// ---------------------------------------------------------------------------
// pg-boss
// ---------------------------------------------------------------------------

const pgBoss = async (): Promise<Report> => {
  const url = pgUrl()
  if (url === undefined) return { skipped: "set CHAINJOBS_TEST_PG_URL" }
  const { PgBoss } = await import("pg-boss")
  const schema = schemaName("pgboss")
  const boss = new PgBoss({ connectionString: url, schema })
  boss.on("error", (error) => console.error(error))
  await boss.start()
  try {
    await boss.createQueue("noop")
    let processed = 0
    const all = signal()
    await boss.work("noop", { batchSize: 100, localConcurrency: 2, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      processed += jobs.length
      if (processed >= TASKS) all.resolve()
    })
    const db = boss.getDb()
    return await bulk(
      TASKS,
      (ns) => boss.insert("noop", ns.map((n) => ({ data: { n } }))),
      async () => {
        await all.promise
        // The batch is completed after its handler returned: done once every row says so.
        await until(async () => {
          const { rows } = await db.executeSql(
            `SELECT count(*) AS n FROM "${schema}".job WHERE name = 'noop' AND state = 'completed'`
          ) as { rows: Array<{ n: string }> }
          return Number(rows[0].n) === TASKS
        })
      }
    )
  } finally {
    await boss.stop({ graceful: false })
    await dropSchema(url, schema)
  }
}

// ---------------------------------------------------------------------------
// BullMQ
// ---------------------------------------------------------------------------

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const bullmq = async (): Promise<Report> => {
  if (spawnSync("redis-server", ["--version"]).error !== undefined) return { skipped: "redis-server is not installed" }
  const port = await freePort()
  const redis = spawn("redis-server", [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--maxmemory-policy", "noeviction", "--protected-mode", "yes"
  ], { stdio: ["ignore", "pipe", "inherit"] })
  const stopRedis = () => redis.kill("SIGKILL")
  process.once("exit", stopRedis)
  try {
    await new Promise<void>((resolve, reject) => {
      redis.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)))
      redis.stdout.on("data", (data: Buffer) => {
        if (data.toString().includes("Ready to accept connections")) resolve()
      })
    })
    const { Queue, Worker } = await import("bullmq")
    const connection = { host: "127.0.0.1", port, maxRetriesPerRequest: null }
    const queue = new Queue("noop", { connection, defaultJobOptions: { removeOnComplete: true } })
    let completed = 0
    const all = signal()
    const worker = new Worker("noop", async () => {}, { connection, concurrency: 50 })
    worker.on("completed", () => {
      if (++completed === TASKS) all.resolve()
    })
    try {
      return await bulk(
        TASKS,
        (ns) => queue.addBulk(ns.map((n) => ({ name: "noop", data: { n } }))),
        () => all.promise,
        false
      )
    } finally {
      await worker.close()
      await queue.close()
    }
  } finally {
    stopRedis()
  }
}

const runners: Record<System, () => Promise<Report>> = {
  "chainjobs-sqlite": () => chainjobs("sqlite", "submit"),
  "chainjobs-sqlite-batch": () => chainjobs("sqlite", "batch"),
  "chainjobs-sqlite-lone": () => chainjobs("sqlite", "lone"),
  "chainjobs-pg": () => chainjobs("pg", "submit"),
  "chainjobs-pg-flight": () => chainjobs("pg", "submit", STORE_BATCHES_IN_FLIGHT),
  "chainjobs-pg-batch": () => chainjobs("pg", "batch", STORE_BATCHES_IN_FLIGHT),
  "graphile-worker": graphileWorker,
  "pg-boss": pgBoss,
  "bullmq": bullmq
}

// ---------------------------------------------------------------------------
// the table
// ---------------------------------------------------------------------------

const runChild = (system: System): Promise<Report> =>
  new Promise((resolve) => {
    const here = fileURLToPath(import.meta.url)
    const child = spawn(process.execPath, [here, system, ...process.argv.slice(2)], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (data: Buffer) => (out += data.toString()))
    child.once("exit", (code) => {
      const line = out.trim().split("\n").at(-1) ?? ""
      try {
        resolve(JSON.parse(line) as Report)
      } catch {
        resolve({ skipped: `failed (exit ${code})${out.length > 0 ? `: ${out.trim()}` : ""}` })
      }
    })
  })

/** The round of median throughput, or the first skip when no round finished. */
const median = (reports: ReadonlyArray<Report>): Report => {
  const done = reports.filter((report) => "figures" in report).sort((a, b) => a.figures.perSecond - b.figures.perSecond)
  return done.length === 0 ? reports[0] : done[Math.floor(done.length / 2)]
}

const main = async () => {
  const one = process.argv[2] as System | undefined
  if (one !== undefined && one in runners) {
    console.log(JSON.stringify(await runners[one]()))
    process.exit(0)
  }
  console.log(
    `${fmt(TASKS)} no-op jobs enqueued, processed and completed, each system in its own process, median of ${option("--rounds") ?? 1} ` +
      `round(s) (node ${process.version}, load average ${loadavg()[0].toFixed(1)}; chainjobs on ` +
      `${turnBudget() === undefined ? "Effect's own scheduler" : `a TurnScheduler of ${turnBudget()} ms a turn`})`
  )
  if (pgUrl() === undefined) console.log("PostgreSQL systems skipped: set CHAINJOBS_TEST_PG_URL to a database URL (or pass --pg <url>)")
  const rounds = Number(option("--rounds") ?? 1)
  const runs = new Map<System, Array<Report>>(systems.map((system) => [system, []]))
  for (let round = 0; round < rounds; round++) {
    for (const system of systems) runs.get(system)!.push(await runChild(system))
  }
  const reports = new Map<System, Report>(systems.map((system) => [system, median(runs.get(system)!)]))
  const rate = (system: System) => {
    const report = reports.get(system)
    return report !== undefined && "figures" in report ? report.figures.perSecond : undefined
  }
  const ratio = (system: System, base: number | undefined) => {
    const own = rate(system)
    return own === undefined || base === undefined ? "" : `${fmt(base / own, 2)}×`
  }
  const sqlite = rate("chainjobs-sqlite")
  const pg = rate("chainjobs-pg")
  const rows = [["system", "tasks/s", "SQLite chainjobs ÷ it", "PostgreSQL chainjobs ÷ it", "ack p50 ms", "ack p99 ms", "CPU ms / 1k", "PG server CPU ms / 1k"]]
  for (const system of systems) {
    const report = reports.get(system)!
    if ("skipped" in report) {
      rows.push([labels[system], `skipped: ${report.skipped}`, "", "", "", "", "", ""])
      continue
    }
    const { ackP50, ackP99, cpuPerThousand, perSecond } = report.figures
    // The lone submitter measures latency, not throughput: its rate is no peer's to compare with.
    const compared = system !== "chainjobs-sqlite-lone"
    rows.push([
      labels[system],
      fmt(perSecond),
      compared ? ratio(system, sqlite) : "",
      compared ? ratio(system, pg) : "",
      fmt(ackP50, 2),
      fmt(ackP99, 2),
      cpuPerThousand === undefined ? "" : fmt(cpuPerThousand),
      report.serverCpuPerThousand === undefined ? "" : fmt(report.serverCpuPerThousand)
    ])
  }
  table(rows)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
