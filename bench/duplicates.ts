/**
 * New records meeting existing ids on PostgreSQL: what each way of writing a
 * batch's inserts costs when some of its ids are stored already (idempotent
 * re-submits of caller-chosen ids), the store alone, side by side in one run.
 *
 * Each run writes `BATCHES` batches of `BATCH` new records through
 * `insertAll`, one call at a time, into a schema of its own holding one batch
 * written before (the ids re-submitted come from there and from the earlier
 * batches). The duplicates, at positions drawn the same for every way:
 * - none;
 * - rare: one in every 10th batch;
 * - one in every batch;
 * - a tenth of every batch.
 * The ways (the store's `pgInserts`):
 * - `plain` first: a plain `INSERT`, and the batch again with `ON CONFLICT
 *   DO NOTHING` when it met an existing id;
 * - always `checked`: `ON CONFLICT DO NOTHING` every time;
 * - `adaptive`, the default: checked while more than a sixth of the recent
 *   batches met an existing id.
 * Figures per 1,000 records written (duplicates included): wall time,
 * this process's CPU, the PostgreSQL backends' CPU (`_pgServerCpu.ts`), and
 * the growth of the table with its indexes (a failed plain insert leaves its
 * rows dead in the heap and in every index until a vacuum). Every run checks
 * that exactly the duplicates were refused, as "already exists".
 *
 * `npm run bench -- duplicates` (`--rounds N`, default 3: the ways alternate
 * within a round, the median round is shown; one run before, unmeasured, warms up). Needs `CHAINJOBS_TEST_PG_URL`.
 */
import { TaskStore } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { loadavg } from "node:os"
import * as SqlTaskStore from "../packages/store-sql/src/SqlTaskStore.ts"
import { fmt, table } from "./_measure.ts"
import { measureServerCpu } from "./_pgServerCpu.ts"

const BATCH = 1_000
const BATCHES = 40

const ways = [
  { name: "plain first", pgInserts: "plain" },
  { name: "always checked", pgInserts: "checked" },
  { name: "adaptive (default)", pgInserts: "adaptive" }
] as const

/** How many of a batch's records (by its number, from 0) re-submit stored ids. */
const patterns = [
  { name: "no duplicates", duplicates: (_batch: number) => 0 },
  { name: "1 in every 10th batch", duplicates: (batch: number) => (batch % 10 === 9 ? 1 : 0) },
  { name: "1 in every batch", duplicates: (_batch: number) => 1 },
  { name: "10% of every batch", duplicates: (_batch: number) => BATCH / 10 }
] as const

interface Figures {
  readonly wallMs: number
  readonly nodeCpuMs: number
  readonly serverCpuMs: number | undefined
  readonly growthKb: number
}

/** A small deterministic generator, so that every way meets duplicates at the same positions. */
const generator = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
  return seed / 2_147_483_648
}

/**
 * The batches of one run: the first written before measuring, then
 * `BATCHES` holding `duplicates(n)` stored records each, at random positions.
 */
const batchesOf = (duplicates: (batch: number) => number, seed: number) => {
  const random = generator(seed)
  const stored = Array.from({ length: BATCH }, () => record())
  const first = [...stored]
  const measured = Array.from({ length: BATCHES }, (_, n) => {
    const batch = Array.from({ length: BATCH }, () => record())
    const fresh = new Set(batch)
    // Distinct stored ids at distinct positions: an id twice in one call is refused before it reaches the database.
    const again = new Set<number>()
    for (let i = 0; i < duplicates(n); i++) {
      let at = Math.floor(random() * BATCH)
      while (!fresh.has(batch[at])) at = (at + 1) % BATCH
      let which = Math.floor(random() * stored.length)
      while (again.has(which)) which = (which + 1) % stored.length
      again.add(which)
      fresh.delete(batch[at])
      batch[at] = { ...stored[which], payload: "again" }
    }
    stored.push(...fresh)
    return batch
  })
  return { first, measured }
}

let schemas = 0

const run = (url: string, way: (typeof ways)[number], batches: ReturnType<typeof batchesOf>, expected: number) =>
  Effect.gen(function*() {
    const store = yield* TaskStore.TaskStore
    const sql = yield* SqlClient.SqlClient
    const size = Effect.map(
      sql<{ readonly bytes: unknown }>`SELECT pg_total_relation_size('chainjobs_tasks') AS bytes`,
      (rows) => Number(rows[0].bytes)
    )
    yield* store.insertAll!(batches.first)
    const sizeBefore = yield* size
    const server = measureServerCpu(decodeURIComponent(new URL(url).pathname.slice(1)))
    const cpu = process.cpuUsage()
    const start = performance.now()
    let refused = 0
    for (const batch of batches.measured) {
      const results = yield* store.insertAll!(batch)
      for (const error of results) {
        if (error === undefined) continue
        if (!/already exists/.test(error.message)) return yield* Effect.die(error)
        refused++
      }
    }
    const wallMs = performance.now() - start
    const used = process.cpuUsage(cpu)
    const serverCpuMs = server?.()
    const growth = (yield* size) - sizeBefore
    if (refused !== expected) return yield* Effect.die(new Error(`${way.name}: ${refused} refused, ${expected} duplicates sent`))
    const thousands = (BATCH * BATCHES) / 1000
    return {
      wallMs: wallMs / thousands,
      nodeCpuMs: (used.user + used.system) / 1000 / thousands,
      serverCpuMs: serverCpuMs === undefined ? undefined : serverCpuMs / thousands,
      growthKb: growth / 1024 / thousands
    } satisfies Figures
  }).pipe(
    Effect.provide(Effect.gen(function*() {
      const schema = `bench_duplicates_${process.pid}_${++schemas}`
      const client = SqlTaskStore.layerPgClient({ url: Redacted.make(url), schema, maxConnections: 2 })
      // The schema goes once the run is over, with the store's pools still open until then.
      const dropped = Layer.effectDiscard(Effect.addFinalizer(() =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`DROP SCHEMA ${sql.literal(`"${schema}"`)} CASCADE`
        }).pipe(Effect.ignore)
      ))
      return Layer.mergeAll(SqlTaskStore.layer({ pgInserts: way.pgInserts }), dropped).pipe(
        Layer.provideMerge(client)
      )
    }).pipe(Layer.unwrap)),
    Effect.runPromise
  )

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const load = () => loadavg().map((n) => n.toFixed(2)).join(" ")

const main = async () => {
  const url = process.env.CHAINJOBS_TEST_PG_URL
  if (url === undefined) {
    console.log("skipped: set CHAINJOBS_TEST_PG_URL to a PostgreSQL database URL")
    return
  }
  const flag = process.argv.indexOf("--rounds")
  const rounds = flag >= 0 ? Number(process.argv[flag + 1]) : 3
  console.log(
    `${fmt(BATCHES)} batches of ${fmt(BATCH)} new records through insertAll on PostgreSQL, per 1,000 records; ` +
      `median of ${rounds} rounds, the ways alternating (node ${process.version}); load ${load()}`
  )
  // One run unmeasured first, so that the first way measured does not pay for the warm-up alone.
  await run(url, ways[0], batchesOf(patterns[0].duplicates, 0), 0)
  const rows = [["duplicates", "way", "wall ms", "node CPU ms", "PG server CPU ms", "table + index KB", "server CPU ÷ plain first"]]
  for (const pattern of patterns) {
    const expected = Array.from({ length: BATCHES }, (_, n) => pattern.duplicates(n)).reduce((a, b) => a + b, 0)
    const figures = ways.map(() => [] as Array<Figures>)
    for (let round = 0; round < rounds; round++) {
      for (const [i, way] of ways.entries()) {
        figures[i].push(await run(url, way, batchesOf(pattern.duplicates, round + 1), expected))
      }
    }
    const medians = figures.map((runs) => ({
      wallMs: median(runs.map((f) => f.wallMs)),
      nodeCpuMs: median(runs.map((f) => f.nodeCpuMs)),
      serverCpuMs: runs.every((f) => f.serverCpuMs !== undefined) ? median(runs.map((f) => f.serverCpuMs!)) : undefined,
      growthKb: median(runs.map((f) => f.growthKb))
    }))
    for (const [i, way] of ways.entries()) {
      const m = medians[i]
      const base = medians[0].serverCpuMs
      rows.push([
        i === 0 ? pattern.name : "",
        way.name,
        fmt(m.wallMs, 1),
        fmt(m.nodeCpuMs, 1),
        m.serverCpuMs === undefined ? "—" : fmt(m.serverCpuMs, 1),
        fmt(m.growthKb, 0),
        m.serverCpuMs === undefined || base === undefined ? "—" : `${(m.serverCpuMs / base).toFixed(2)}×`
      ])
    }
  }
  table(rows)
  console.log(`load at the end ${load()}`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
