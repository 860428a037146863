/**
 * What the SQL stores send the database per task: 20,000 no-op tasks
 * submitted by 1,000 concurrent submitters and awaited (each task two writes:
 * inserted running, updated completed, shared by group commits), counting
 * transactions and statements from the spans of `effect/sql` (a tracer that
 * counts and otherwise does what the default one does). On SQLite
 * (synchronous = FULL) and, when `CHAINJOBS_TEST_PG_URL` is set, on
 * PostgreSQL, in a schema of its own, dropped afterwards (there a batch is
 * usually one statement, committed on its own: no explicit transaction). On
 * SQLite a batch's statements go to the database in one `transact` call,
 * counted from its span's `db.operation.batch.size`.
 * Counts, not timings: steady on a loaded machine.
 */
import { Task, TaskStore, Tasks } from "@chainjobs/tasks"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted, Schema, Tracer } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlTaskStore from "../packages/store-sql/src/SqlTaskStore.ts"
import { fmt, table } from "./_measure.ts"

const TASKS = 20_000
const SUBMITTERS = 1_000

const Noop = Task.define("noop", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

/** Transactions, and statements by their first word, seen since the last `reset`. */
const counter = () => {
  const counts = { transactions: 0, statements: new Map<string, number>() }
  const tracer = Tracer.make({
    span(options) {
      if (options.name === "sql.transaction") counts.transactions++
      const span = Tracer.nativeTracer.span(options)
      const attribute = span.attribute.bind(span)
      span.attribute = (key, value) => {
        if (key === "db.query.text") {
          const verb = String(value).trimStart().split(/\s/, 1)[0].toUpperCase()
          counts.statements.set(verb, (counts.statements.get(verb) ?? 0) + 1)
        }
        // A transaction sent in one call (SQLite's `transact`): its statements, BEGIN and COMMIT aside, write rows.
        if (key === "db.operation.batch.size") counts.statements.set("INSERT", (counts.statements.get("INSERT") ?? 0) + Number(value))
        attribute(key, value)
      }
      return span
    }
  })
  const reset = () => {
    counts.transactions = 0
    counts.statements.clear()
  }
  return { counts, tracer, reset }
}

/** Runs the tasks on `store` and returns the table row of what they sent. */
const measure = (label: string, store: Layer.Layer<TaskStore.TaskStore, unknown>) => {
  const { counts, reset, tracer } = counter()
  return Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    reset()
    yield* Effect.forEach(
      Array.from({ length: TASKS }, (_, n) => n),
      (n) => Effect.flatMap(tasks.submit(Noop, { n }), (handle) => handle.await),
      { concurrency: SUBMITTERS, discard: true }
    )
    const perThousand = (n: number) => fmt((n * 1000) / TASKS, 1)
    const all = Array.from(counts.statements.values()).reduce((sum, n) => sum + n, 0)
    // PostgreSQL writes a batch as one `WITH … INSERT` statement.
    const rowWrites = (counts.statements.get("INSERT") ?? 0) + (counts.statements.get("WITH") ?? 0)
    return [label, perThousand(counts.transactions), perThousand(rowWrites), perThousand(all)]
  }).pipe(
    Effect.provide(Task.implement(Noop, () => Effect.void).pipe(
      Layer.provideMerge(Tasks.layer({ maxWorkers: SUBMITTERS, shutdownGracePeriod: 0 })),
      Layer.provideMerge(store)
    )),
    Effect.provideService(Tracer.Tracer, tracer)
  )
}

const main = Effect.gen(function*() {
  console.log(`${fmt(TASKS)} no-op tasks, ${fmt(SUBMITTERS)} submitters at once, per 1,000 tasks`)
  const rows = [["store", "transactions", "row-writing statements", "all statements"]]
  const directory = mkdtempSync(join(tmpdir(), "chainjobs-statements-"))
  rows.push(
    yield* measure("SQLite FULL", SqlTaskStore.layerSqlite({ filename: join(directory, "tasks.db") })).pipe(
      Effect.ensuring(Effect.sync(() => rmSync(directory, { recursive: true, force: true })))
    )
  )
  const url = process.env.CHAINJOBS_TEST_PG_URL
  if (url === undefined) {
    console.log("PostgreSQL skipped: set CHAINJOBS_TEST_PG_URL")
  } else {
    const schema = `bench_statements_${process.pid}`
    const drop = Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.orDie)
    rows.push(
      yield* measure("PostgreSQL", SqlTaskStore.layerPg({ url: Redacted.make(url), schema, maxConnections: 4 })).pipe(
        Effect.ensuring(drop)
      )
    )
  }
  table(rows)
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exit(1)
})
