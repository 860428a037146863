/**
 * What `Runner.layer` puts together around its services, with runners of `Runner.layer` in the test process
 * (`InProcessCluster.ts`: a fresh database each, socket transport): it builds its tables under the schema's start-up
 * lock (a runner starting meanwhile waits for it), hands its insert mode to the task store, logs its shards each
 * time they change and only then (held, open, guarded, and whether it runs the runners' health check), and, beside a
 * second runner, holds only its share of the shards and hands a running task over when it stops — the other runner
 * runs it to its end, not the stopping runner's shutdown interrupting it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Layer, Logger, Metric, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { Runner } from "@chainjobs/cluster"
import { eventually, Gated, Hold, keyOn, makeCluster, settled, shards, story } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** The advisory lock's name a runner starts under (`Runner.ts`' `startupLockName`), hashed with the schema's. */
const startupLock = "chainjobs/runner-start-up/"

/** Every line a runner logs about its shards, as the runners built under `logging` log them. */
const shardLog = () => {
  const lines: Array<string> = []
  const capture = Logger.make((options) => {
    const [text] = options.message as ReadonlyArray<unknown>
    if (typeof text === "string" && text.startsWith("Shards of runner ")) lines.push(text)
  })
  const logging = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provide(Logger.layer([capture], { mergeWithExisting: true })))
  return { lines, logging }
}

/** What a runner's shard line says of every shard held, open and guarded, and whether it runs the health check. */
const shardLine = /^Shards of runner 127\.0\.0\.1:\d+: held \d+, open to submissions \d+, guarded \d+(, the runners' health check among them)?$/

describe.skipIf(pgTestUrl === undefined)("Runner.layer's parts", () => {
  it.live("builds its tables under the schema's start-up lock: a runner starting while another holds it waits", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const client = yield* Layer.build(
        SqlTaskStore.layerPgClient({ url: Redacted.make(cluster.databaseUrl), maxConnections: 1, schema: "chainjobs" })
      )
      const sql = Context.get(client, SqlClient.SqlClient)
      // held here as a runner starting on the same schema holds it
      yield* sql`SELECT pg_advisory_lock(hashtext(${startupLock} || current_schema()))`
      const starting = yield* Effect.forkChild(cluster.start("a"))
      const waiting = sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
      yield* eventually(Effect.map(waiting, (rows) => rows[0]?.n === 1), () => "a's start waits for the start-up lock")
      yield* sql`SELECT pg_advisory_unlock(hashtext(${startupLock} || current_schema()))`
      const a = yield* Fiber.join(starting)
      yield* settled([a])
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("hands its insert mode to the task store: a mode the store does not know fails the start", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      // the option is typed; a mode that reaches the store unchecked shows that the store is the one refusing it
      const exit = yield* Effect.exit(cluster.start("a", { pgInserts: "sometimes" as never }))
      assert.isTrue(Exit.isFailure(exit), "the runner started")
      assert.deepInclude(Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined, { _tag: "TaskStoreError", operation: "configure" })
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("logs its shards each time they change, and only then", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const { lines, logging } = shardLog()
      const a = yield* logging(cluster.start("a", { directAdmission: true }))
      yield* settled([a])
      const every = `Shards of runner ${a.address}: held ${shards}, open to submissions ${shards}, guarded ${shards}, ` +
        "the runners' health check among them"
      yield* eventually(Effect.sync(() => lines.at(-1) === every), () => `the last line tells every shard: ${lines.join(" | ")}`)
      // two status reports more, known by the gauge they set (a task running, then none): the shards did not change
      const running = Effect.map(
        Metric.value(Metric.withAttributes(Runner.tasksRunning, { runner: a.address })),
        (state) => state.value
      )
      const task = yield* a.tasks.submit(Gated, { gate: "one" })
      yield* eventually(Effect.map(running, (n) => n === 1), () => "a report counts the task running")
      yield* cluster.open("one")
      assert.strictEqual(yield* task.join, "a")
      yield* eventually(Effect.map(running, (n) => n === 0), () => "a later report counts none")
      assert.strictEqual(lines.at(-1), every)
      for (const line of lines) assert.match(line, shardLine)
      lines.forEach((line, i) => assert.notStrictEqual(line, lines[i - 1], `line ${i} repeats the one before: ${lines.join(" | ")}`))
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("beside another runner holds its share of the shards, says in its log whether it runs the health check, and hands a running task over when it stops", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const { lines, logging } = shardLog()
      const a = yield* logging(cluster.start("a", { directAdmission: true }))
      yield* settled([a])
      const b = yield* logging(cluster.start("b", { directAdmission: true }))
      yield* settled([a, b])
      const held = [yield* a.status.shardsHeld, yield* b.status.shardsHeld]
      assert.isTrue(held.every((n) => n > 0 && n < shards), `each holds a share: ${held.join(", ")} of ${shards}`)
      // only one runs the health check: the other's lines say so by leaving it out (its next report logs it)
      yield* eventually(
        Effect.sync(() => lines.some((line) => !line.endsWith("among them"))),
        () => `a line without the health check: ${lines.join(" | ")}`
      )
      for (const line of lines) assert.match(line, shardLine)
      // a task running on a (its key's shard is a's when submitted; if it moved to b meanwhile, b runs it all along)
      const key = yield* keyOn(a, "hold")
      const handle = yield* a.tasks.submit(Hold, { key, gate: key })
      yield* eventually(
        Effect.sync(() => story(cluster, handle.id).some((line) => line.startsWith("start"))),
        () => `the task starts: ${JSON.stringify(story(cluster, handle.id))}`
      )
      yield* a.stop
      yield* cluster.open(key)
      assert.deepInclude(yield* b.tasks.awaitInfo(handle.id), { status: "completed", result: "b", runner: b.address })
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
