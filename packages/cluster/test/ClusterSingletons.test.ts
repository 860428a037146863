/**
 * Schedules and daemons as cluster singletons (`ClusterTasks.schedule`,
 * `daemon`) and what a runner tells about itself (`Runner.RunnerStatus`):
 * runners of `Runner.layer` in the test process on one fresh PostgreSQL
 * database (`InProcessCluster.ts`). Every runner declares the same schedule;
 * one runs it, the other takes over when that one stops; a schedule of
 * another payload is another singleton; a daemon stopped everywhere
 * interrupts its task.
 */
import { assert, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Metric, Option, Redacted, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { Runner, TaskEntity } from "@chainjobs/cluster"
import { eventually, Gated, Hold, makeCluster, settled, shards, Tick } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("singletons and runner status", () => {
  it.live("a schedule every runner declares runs on one runner at a time, moves when that runner stops, and each payload is a schedule of its own", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      const b = yield* cluster.start("b")
      yield* settled([a, b])
      const every = { schedule: Schedule.spaced("100 millis") }
      const onA = yield* a.tasks.schedule(Tick, { n: 1 }, every)
      const onB = yield* b.tasks.schedule(Tick, { n: 1 }, every)
      // declared on both too: a singleton runs where its shard is held, if declared there
      yield* a.tasks.schedule(Tick, { n: 2 }, every)
      yield* b.tasks.schedule(Tick, { n: 2 }, every)
      /** Which declarations of the first schedule have submitted a task. */
      const running = Effect.map(Effect.all([onA.lastTask, onB.lastTask]), ([x, y]) => [Option.isSome(x), Option.isSome(y)])
      yield* eventually(Effect.map(running, ([x, y]) => x || y), () => "the schedule submits")
      const payloads = Effect.map(a.tasks.list({ kind: ["tick"] }), (page) => new Set(page.items.map((info) => JSON.stringify(info.payload))))
      yield* eventually(Effect.map(payloads, (seen) => seen.has('{"n":2}')), () => "the schedule of another payload submits")
      // it goes on submitting on one runner only
      yield* Effect.sleep("300 millis")
      const [onAFirst, onBFirst] = yield* running
      assert.notStrictEqual(onAFirst, onBFirst, "one runner runs the schedule")
      // the runner running it stops: the other takes it over
      const [gone, stays, declared] = onAFirst ? [a, b, onB] : [b, a, onA]
      yield* gone.stop
      yield* eventually(Effect.map(declared.lastTask, Option.isSome), () => `${stays.name} takes the schedule over`)
      // cancelled: no longer run
      yield* declared.cancel
      assert.isTrue(Option.isNone(yield* declared.lastTask))
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a daemon every runner declares keeps one task running, on one runner; stopped on every runner, its task is interrupted", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      const b = yield* cluster.start("b")
      yield* settled([a, b])
      const options = { restart: Schedule.spaced("100 millis") }
      const daemons = [yield* a.tasks.daemon(Gated, { gate: "never" }, options), yield* b.tasks.daemon(Gated, { gate: "never" }, options)]
      const currents = Effect.forEach(daemons, (daemon) => daemon.current)
      yield* eventually(Effect.map(currents, (ids) => ids.some(Option.isSome)), () => "the daemon starts its task")
      const ids = (yield* currents).filter(Option.isSome).map((id) => id.value)
      assert.strictEqual(ids.length, 1, "one runner runs the daemon")
      assert.deepStrictEqual((yield* Effect.forEach(daemons, (daemon) => daemon.starts)).sort(), [0, 1])
      yield* eventually(Effect.map(Effect.orDie(a.tasks.get(ids[0]!)), (info) => info.status === "running"), () => "its task runs")
      yield* Effect.forEach(daemons, (daemon) => daemon.stop)
      yield* eventually(
        Effect.map(Effect.orDie(b.tasks.get(ids[0]!)), (info) => info.status === "interrupted"),
        () => "the daemon's task is interrupted"
      )
      assert.deepStrictEqual((yield* currents).map(Option.isSome), [false, false])
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a daemon's singleton stopped while its runner's shard locks look unhealthy stops its task without waiting on the cluster, so the runner takes its shards back", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      yield* settled([a])
      const daemon = yield* a.tasks.daemon(Gated, { gate: "never" }, { restart: Schedule.spaced("100 millis") })
      yield* eventually(Effect.map(daemon.current, Option.isSome), () => "the daemon starts its task")
      const first = Option.getOrThrow(yield* daemon.current)
      yield* eventually(Effect.map(Effect.orDie(a.tasks.get(first)), (info) => info.status === "running"), () => "its task runs")
      // The runners' row locked: a's lock refresh (which stamps its heartbeat there first) times out, its shard locks
      // count as unhealthy, and every shard is force-released, which waits for the daemon's singleton to stop. Its
      // task's shard is one of them: an `Interrupt` through the cluster would wait for it to be held again.
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`SELECT 1 FROM chainjobs.cluster_runners FOR UPDATE`
          yield* eventually(Effect.map(a.status.shardsHeld, (held) => held === 0), () => "a gives its shards up")
        }))
      }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(cluster.databaseUrl), maxConnections: 1 })), Effect.orDie)
      // the storage answers again: the forced release ends once the singleton has stopped, and a takes its shards back
      yield* settled([a])
      // the daemon's task stopped (where it was handed over to, once its shard was held again), and another stands for it
      yield* eventually(
        Effect.map(Effect.orDie(a.tasks.get(first)), (info) => info.status === "interrupted"),
        () => "the daemon's first task is interrupted"
      )
      yield* eventually(
        Effect.map(daemon.current, (current) => Option.isSome(current) && current.value !== first),
        () => "the daemon starts another task"
      )
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live("a runner stopping gracefully interrupts its daemon's task running on another runner, so the next holder of the daemon starts one of its own", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      const b = yield* cluster.start("b")
      yield* settled([a, b])
      // A key whose daemon's singleton a runs and whose task b owns; `Hold` refuses a second task of one key, so the
      // daemon's next task can only start once the first has been interrupted.
      const singletonOf = (key: string) => `chainjobs/daemon/hold/${JSON.stringify({ key, gate: "never" })}`
      const candidates = Array.from({ length: 10_000 }, (_, i) => `daemon-${i}`)
      const key = candidates.find((k) =>
        a.holds(singletonOf(k)) && b.holds(TaskEntity.placement({ id: "", kind: "hold", key: k }))
      )
      assert.isDefined(key, "a key whose daemon runs on a and whose task b owns")
      const options = { restart: Schedule.spaced("100 millis") }
      const onA = yield* a.tasks.daemon(Hold, { key: key!, gate: "never" }, options)
      const onB = yield* b.tasks.daemon(Hold, { key: key!, gate: "never" }, options)
      yield* eventually(Effect.map(onA.current, Option.isSome), () => "a's daemon starts its task")
      const first = Option.getOrThrow(yield* onA.current)
      yield* eventually(Effect.map(Effect.orDie(b.tasks.get(first)), (info) => info.status === "running"), () => "its task runs on b")
      yield* a.stop
      yield* eventually(
        Effect.map(Effect.orDie(b.tasks.get(first)), (info) => info.status === "interrupted"),
        () => "the daemon's task on b is interrupted"
      )
      yield* eventually(
        Effect.map(onB.current, (current) => Option.isSome(current) && current.value !== first),
        () => "b's daemon starts a task of its own"
      )
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a runner tells its address, the shards it holds and its running and waiting tasks, also as gauges labelled with its address", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a", { maxWorkers: 1 })
      yield* settled([a])
      assert.match(a.address, /^127\.0\.0\.1:\d+$/)
      assert.strictEqual(yield* a.status.shardsHeld, shards)
      yield* a.tasks.submit(Gated, { gate: "one" })
      yield* a.tasks.submit(Gated, { gate: "two" })
      yield* a.tasks.submit(Gated, { gate: "two" })
      yield* eventually(
        Effect.map(a.status.tasks, (tasks) => tasks.running === 1 && tasks.pending === 2),
        () => "one task runs, two wait"
      )
      const gauge = (metric: Metric.Gauge<number>) =>
        Effect.map(Metric.value(Metric.withAttributes(metric, { runner: a.address })), (state) => state.value)
      const gauges = Effect.all([gauge(Runner.shardsHeld), gauge(Runner.tasksRunning), gauge(Runner.tasksPending)])
      yield* eventually(
        Effect.map(gauges, ([held, running, pending]) => held === shards && running === 1 && pending === 2),
        () => "the gauges follow the status"
      )
      yield* Effect.forEach(["one", "two"], cluster.open)
      yield* eventually(
        Effect.map(a.status.tasks, (tasks) => tasks.running === 0 && tasks.pending === 0),
        () => "every task has finished"
      )
      // every record names the runner that ran it
      const listed = yield* a.tasks.list({})
      assert.deepStrictEqual(listed.items.map((info) => info.runner), [a.address, a.address, a.address])
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
