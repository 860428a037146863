/**
 * `npm run bench -- cluster`: chainjobs as a cluster of runner processes on
 * PostgreSQL (`CHAINJOBS_TEST_PG_URL`), figures side by side in one run:
 * - throughput of I/O-bound tasks (each waits 20 ms), 50 workers per runner,
 *   with 1, 2 and 3 runners (goal: ≥ 1.8× and ≥ 2.5× the one-runner figure),
 *   for each placement of unkeyed tasks side by side (`RunnerSettings.placement`:
 *   `local`, the default, kept on the runner they are submitted on while it has
 *   a free worker; `shard`, spread over every runner): two clusters, each on a
 *   database of its own (shard locks are advisory locks, per database), grown
 *   together a runner at a time, their bursts taking turns;
 * - failover: `kill -9` of a runner to its task running again on another,
 *   median of 5 (goal: ≤ 10 s);
 * - no-op tasks through a one-runner cluster vs the single-process supervisor
 *   on the same database (goal: ≥ 0.8×).
 * Runners are `packages/cluster/test/runner.ts` child processes on 127.0.0.1.
 * Beside each rate: the CPU time the runner processes (or the single process)
 * spent per task meanwhile, which the machine's load distorts far less than
 * the rates: on a shared machine it is the cost to compare. Beside that, the same less the runners' idle CPU (their
 * CPU per second with nothing submitted, measured just before once two windows agree, times each one's burst): under
 * load a burst stretches and the idle share per task with it, so that figure is the tasks' own cost.
 */
import { readFileSync } from "node:fs"
import { loadavg } from "node:os"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Fiber, Layer, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { Task, TaskFeed, Tasks } from "@chainjobs/tasks"
import { startProfile } from "../packages/cluster/test/cpuProfile.ts"
import { gcMillis } from "../packages/cluster/test/gcTime.ts"
import { makeCluster, onDatabase, type RunnerProcess, settled, type TestCluster } from "../packages/cluster/test/RunnerProcess.ts"
import * as CpuControl from "./_cpuControl.ts"
import * as FailoverPhases from "./_failoverPhases.ts"
import * as FeedHeard from "./_feedHeard.ts"
import { fmt, perSecond, table } from "./_measure.ts"

const url = process.env.CHAINJOBS_TEST_PG_URL
/**
 * I/O tasks per runner in each measured burst (`CLUSTER_BENCH_TASKS`, default 5,000): a burst of about 3 s on a quiet
 * machine at every runner count. With 1,000 (until session 19) a burst lasted 0.3–0.7 s and measured its own start and
 * end (the last tasks' stragglers, a collection, the load of the moment) as much as the runners' rate.
 */
const IO_TASKS_PER_RUNNER = Number(process.env.CLUSTER_BENCH_TASKS ?? 5000)
/**
 * No-op tasks in each measured burst of the no-op comparison (`CLUSTER_BENCH_NOOP_TASKS`, else `CLUSTER_BENCH_TASKS`,
 * else 10,000: about 2 s on either side on a quiet machine; 1,000 until session 19 lasted 0.2–0.3 s).
 */
const NOOP_TASKS = Number(process.env.CLUSTER_BENCH_NOOP_TASKS ?? process.env.CLUSTER_BENCH_TASKS ?? 10_000)
/**
 * Submissions in flight per runner for the I/O-bound bursts (`CLUSTER_BENCH_IN_FLIGHT`, default 50): as many as its 50
 * workers, a client keeping its runner busy without a queue. More only queue: with 100, half of a runner's submissions
 * find no free worker, local placement spreads them, and the bench measures the queue's crossings rather than the
 * runners (session 12, placement `shard`, the default then, one runner: 456/s at 100 in flight, load 20, and 627/s at
 * 50, load 11 — runs at different loads, so only the direction is read from them).
 */
const IO_IN_FLIGHT_PER_RUNNER = Number(process.env.CLUSTER_BENCH_IN_FLIGHT ?? 50)
/** Submissions in flight for the no-op comparison (cluster of one vs the single process): enough to batch the store. */
const NOOP_IN_FLIGHT = 100
/** The submissions a burst of `kind` keeps in flight per runner. */
const inFlightOf = (kind: string): number => kind === "io" ? IO_IN_FLIGHT_PER_RUNNER : NOOP_IN_FLIGHT
/**
 * No-op tasks each side of the no-op comparison runs before it is measured, the runner and the single process alike
 * (2,000; 200 until session 19, when the sides' first measured tasks still paid for their code's compilation).
 */
const WARM_UP = 2000
/**
 * I/O tasks each runner runs before each runner count's measured bursts (`CLUSTER_BENCH_WARM_UP`, default 2,000). A
 * runner's CPU per task falls over its first few thousand tasks (its code compiled and optimized, its heap grown;
 * its idle loops' CPU too): after the 200 of before, the newest runner of a burst cost up to twice the others
 * (session 17, the lead's quiet run: 167 / 191 / 358 µs per task of its own with 3 runners), so the figure measured
 * how new the last runner was. `CLUSTER_BENCH_BURSTS` shows it burst by burst.
 */
const IO_WARM_UP = Number(process.env.CLUSTER_BENCH_WARM_UP ?? 2000)
/**
 * The runners' environment: whether they admit their own shards' submissions directly
 * (`RunnerSettings.directAdmission`, on by default; `CLUSTER_BENCH_DIRECT=false` turns it off), and a lifetime longer
 * than the run (a runner of the tests goes after three minutes; the first one here serves the whole run).
 */
const DIRECT = {
  RUNNER_DIRECT_ADMISSION: process.env.CLUSTER_BENCH_DIRECT === "false" ? "false" : "true",
  RUNNER_LIFETIME_MS: String(60 * 60_000)
}
/**
 * `CLUSTER_BENCH_ONLY=noop`: the no-op comparison alone (a cluster of one beside the single process), in seconds;
 * `CLUSTER_BENCH_ONLY=failover`: three runners and the failover rounds alone; `CLUSTER_BENCH_ONLY=feed`: what a
 * runner spends per other runner's final record it hears (`_feedHeard.ts`) alone.
 */
const ONLY = process.env.CLUSTER_BENCH_ONLY
/** Failover rounds (`CLUSTER_BENCH_FAILOVERS`, default 5; 0 skips them). */
const FAILOVERS = Number(process.env.CLUSTER_BENCH_FAILOVERS ?? 5)

/**
 * The placements measured side by side (`CLUSTER_BENCH_PLACEMENTS`, default `local,shard`): the first is the default's
 * cluster, where the no-op comparison and the failover rounds run too.
 */
const PLACEMENTS = (process.env.CLUSTER_BENCH_PLACEMENTS ?? "local,shard").split(",").filter((p) =>
  // local placement needs direct admission (a runner refuses to start otherwise)
  p === "shard" || (p === "local" && DIRECT.RUNNER_DIRECT_ADMISSION === "true")
)

/** A directory to write each runner's CPU profile of each measured burst to (`CLUSTER_BENCH_PROFILE`), if any. */
const PROFILE = process.env.CLUSTER_BENCH_PROFILE

/** The 1-minute load average now: printed beside every figure. */
const loadAverage = () => fmt(loadavg()[0]!, 1)

/** Prints how far the run is (it takes minutes). */
const progress = (line: string) => Effect.sync(() => console.log(`  … ${line}`))

/**
 * A rate, and the CPU time spent per task meanwhile, in µs: every runner's (or the single process's), and the
 * PostgreSQL server's on this database's connections.
 */
interface Measured {
  readonly rate: number
  readonly cpuPerTask: number
  /**
   * `cpuPerTask` less what the runners spend anyway while idle (`idleCpu`, settled, just before, times each runner's
   * burst): what the tasks themselves cost. Under load a burst stretches, and its idle share per task with it (0.4 ms
   * per task of a 2-runner burst at load 19, session 13), so the plain figure mostly measures the load; this one does
   * not. The single process's figure is not corrected (`cpuPerTask`).
   */
  readonly busyCpuPerTask: number
  readonly pgCpuPerTask: number
  /** The main threads' collection pauses per task, µs, the runners' (or the single process's): part of `cpuPerTask`. */
  readonly gcPerTask: number
  /** How long each runner's own burst took. */
  readonly spread: string
  /** Each runner's CPU per task it was sent (its own submissions), µs: what one runner's share costs it. */
  readonly perRunner: ReadonlyArray<number>
  /** The CPU control's run beside the burst (`_cpuControl.ts`): how much the machine inflated CPU times meanwhile. */
  readonly control: CpuControl.Control
}

/** The clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`: 100 on Linux). */
const clockTicks = 100

/** Runs `effect` on a connection of its own to the database at `databaseUrl`. */
const onUrl = <A, E>(databaseUrl: string, effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.provide(effect, PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 }), { local: true }).pipe(Effect.orDie)

/**
 * CPU time (user and system, µs) the PostgreSQL backends connected to the database at `databaseUrl` have spent so
 * far, read from `/proc` (the server runs on this machine). A backend that ends between two readings takes its time
 * with it: the runners' pools keep theirs open while they work.
 */
const pgCpu = (databaseUrl: string) => onUrl(databaseUrl, Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`
  const times = new Map<number, number>()
  for (const { pid } of rows) {
    try {
      // the fields after the command's closing parenthesis: utime and stime are the 12th and 13th of them
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
      times.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / clockTicks)
    } catch {
      // ended meanwhile
    }
  }
  return times
}))

/** µs the backends of `before` and `after` spent between the two readings (backends new since count from 0). */
const pgSpent = (before: Map<number, number>, after: Map<number, number>) => {
  let spent = 0
  for (const [pid, micros] of after) spent += micros - (before.get(pid) ?? 0)
  return spent
}

/** The shards of the bench's runners (`runner.ts`' default). */
const SHARDS = 30

/**
 * Waits until the shards are spread evenly (each runner holds ⌊30/n⌋ or ⌈30/n⌉) and every one is open to submissions
 * and guarded: a measured burst then has no shard moving under it, on either side of a comparison. (`settled` only
 * waits for every shard held and each runner holding some: the cluster rebalances on, a shard at a time, for seconds
 * after.) At most 60 s, then fails saying what it saw.
 */
const balanced = (runners: ReadonlyArray<RunnerProcess>) => {
  let seen = ""
  return Effect.gen(function*() {
    const low = Math.floor(SHARDS / runners.length)
    const high = Math.ceil(SHARDS / runners.length)
    for (;;) {
      const statuses = yield* Effect.forEach(runners, (runner) => runner.call({ op: "status" }))
      seen = statuses.map((s, i) => `${runners[i].name}: held ${s.shards}, open ${s.open}, guarded ${s.guarded}`).join("; ")
      const even = statuses.every((s) => s.shards >= low && s.shards <= high && s.open === s.shards && s.guarded === s.shards)
      if (even && statuses.reduce((sum, s) => sum + s.shards, 0) === SHARDS) return
      yield* Effect.sleep("250 millis")
    }
  }).pipe(Effect.timeoutOrElse({
    duration: "60 seconds",
    orElse: () => Effect.die(new Error(`the shards never spread evenly, open and guarded, in 60 s: ${seen}`))
  }))
}

/**
 * The CPU time each runner spends per second while it runs no task (health checks, shard-lock refreshes, the
 * guards', adoption's and shard sampling's loops, the feed's counts and wants), µs per second, with nothing
 * submitted. Every second a burst lasts costs this much on each runner, whatever its tasks. Measured in windows of
 * `IDLE_SECONDS` one after the other until two in a row agree (`idleAgree`), at most `IDLE_WINDOWS`: the first,
 * right after a warm-up, may still hold its tail (the last writes' resumptions, a collection). `settled` is the mean
 * of the last two windows, what the bursts' figures take off; `first` is the first window, printed beside it.
 */
const idleCpu = (runners: ReadonlyArray<RunnerProcess>) =>
  Effect.map(CpuControl.beside(idleWindows(runners)), ([idle, control]) => ({ ...idle, control }))

/** `idleCpu`'s windows. */
const idleWindows = (runners: ReadonlyArray<RunnerProcess>) =>
  Effect.gen(function*() {
    const cpu = Effect.forEach(runners, (runner) => Effect.map(runner.call({ op: "cpu" }), (answer) => answer.cpuMicros as number))
    const windows: Array<ReadonlyArray<number>> = []
    let before = yield* cpu
    let started = Date.now()
    while (windows.length < IDLE_WINDOWS && (windows.length < 2 || !idleAgree(windows.at(-2)!, windows.at(-1)!))) {
      yield* Effect.sleep(`${IDLE_SECONDS} seconds`)
      const after = yield* cpu
      const ended = Date.now()
      const seconds = (ended - started) / 1000
      windows.push(after.map((micros, i) => (micros - before[i]) / seconds))
      before = after
      started = ended
    }
    const [last, previous] = [windows.at(-1)!, windows.at(-2) ?? windows.at(-1)!]
    return { settled: last.map((micros, i) => (micros + previous[i]) / 2), first: windows[0], windows: windows.length }
  })

/** Two idle windows agree when every runner's rates differ by at most a tenth, or 0.5 ms per second when less. */
const idleAgree = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) =>
  a.every((micros, i) => Math.abs(micros - b[i]) <= Math.max(0.1 * Math.max(micros, b[i]), 500))

/** How long one window of the runners' idle CPU lasts, and how many are measured at most before a burst. */
const IDLE_SECONDS = 3
const IDLE_WINDOWS = 5

/** An idle measurement as printed: each runner's settled rate and its first window's, ms of CPU per runner-second. */
const idleText = (idle: Effect.Success<ReturnType<typeof idleCpu>>) =>
  `idle ${idle.settled.map((micros) => fmt(micros / 1000, 1)).join(" / ")} ms CPU per runner-second settled in ${idle.windows} windows of ${IDLE_SECONDS} s (first window ${
    idle.first.map((micros) => fmt(micros / 1000, 1)).join(" / ")
  })`

/**
 * Tasks per second for `count` tasks submitted in `perRunner` shares, one burst per runner at once, each through its
 * own runner's API (as clients of each runner would). The window runs from the first burst sent to the last answered;
 * `spread` says how long each runner's own burst took, which shows a runner left idle while another finishes.
 */
const throughput = (
  runners: ReadonlyArray<RunnerProcess>,
  kind: string,
  payload: unknown,
  perRunner: number,
  label?: string,
  databaseUrl: string = url!,
  idle: ReadonlyArray<number> = []
) =>
  Effect.gen(function*() {
    const pgBefore = yield* pgCpu(databaseUrl)
    const started = Date.now()
    const [answers, control] = yield* CpuControl.beside(Effect.forEach(
      runners,
      (runner) =>
        runner.call({
          op: "burst",
          kind,
          payload,
          count: perRunner,
          concurrency: inFlightOf(kind),
          ...(PROFILE !== undefined && label !== undefined ? { profile: `${PROFILE}/${label}-${runner.name}.cpuprofile` } : {})
        }),
      { concurrency: "unbounded" }
    ))
    const millis = Date.now() - started
    const pg = pgSpent(pgBefore, yield* pgCpu(databaseUrl))
    const tasks = perRunner * runners.length
    const cpu = answers.reduce((sum, answer) => sum + answer.cpuMicros, 0)
    const idleSpent = answers.reduce((sum, answer, i) => sum + ((idle[i] ?? 0) * answer.millis) / 1000, 0)
    const spread = answers.map((answer, i) => `${runners[i].name} ${fmt(answer.millis / 1000, 1)} s`).join(", ")
    return {
      rate: perSecond(tasks, millis),
      cpuPerTask: cpu / tasks,
      busyCpuPerTask: (cpu - idleSpent) / tasks,
      pgCpuPerTask: pg / tasks,
      gcPerTask: answers.reduce((sum, answer) => sum + (answer.gcMicros ?? 0), 0) / tasks,
      spread,
      perRunner: answers.map((answer) => answer.cpuMicros / perRunner),
      control
    } satisfies Measured
  })

/** µs of CPU per task, as a table cell: the runners' (or the single process's). */
const cpuCell = (measured: Measured) => `${fmt(measured.cpuPerTask)} µs`
/** µs of CPU per task less the runners' idle share, as a table cell. */
const busyCell = (measured: Measured) => `${fmt(measured.busyCpuPerTask)} µs`
/** µs of collection pauses per task, as a table cell. */
const gcCell = (measured: Measured) => `${fmt(measured.gcPerTask)} µs`
/** µs of PostgreSQL's CPU per task, as a table cell. */
const pgCell = (measured: Measured) => `${fmt(measured.pgCpuPerTask)} µs`

/**
 * Milliseconds from `kill -9` of a runner running a scan to the scan starting again on another runner. Odd rounds
 * kill the runner running the cluster's runner health check (a singleton: when it dies, nothing of effect's own marks
 * it unhealthy, `DeadRunners`), even rounds another one; each round's phases are printed (`_failoverPhases.ts`).
 */
const failover = (cluster: TestCluster, runners: Array<RunnerProcess>, round: number, env: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const statuses = yield* Effect.forEach(runners, (runner) => runner.status)
    const checker = statuses.findIndex((status) => status.healthCheck)
    const killChecker = round % 2 === 1 && checker >= 0
    // the runner to be killed: the health check's in odd rounds, the one after it in even ones
    const target = killChecker ? runners[checker] : runners[(Math.max(checker, 0) + 1) % runners.length]
    // The scans are submitted through the runner to be killed: placed locally (the default) they run there while it
    // has workers free, placed by shard a third of them do. The interrupts at the end go through one that lives on.
    const via = runners[(runners.indexOf(target) + 1) % runners.length]
    const wanted = (runner: string) => runner === target.name
    const ids: Array<string> = []
    let victim: { readonly task: string; readonly runner: string } | undefined
    let batchAt = 0
    while (victim === undefined) {
      // six scans at a time, more while none has started where wanted (the shards of unkeyed tasks are random)
      if (Date.now() - batchAt > 3_000 && ids.length < 36) {
        batchAt = Date.now()
        for (let i = 0; i < 6; i++) {
          const answer = yield* target.submit("scan", { from: 0, to: 1_000_000, stepMs: 100 })
          ids.push(answer.id!)
        }
      }
      yield* Effect.sleep("100 millis")
      victim = cluster.events().find((e) => e.event === "start" && ids.includes(e.task) && wanted(e.runner))
    }
    const index = runners.findIndex((runner) => runner.name === victim.runner)
    const holders = yield* FailoverPhases.lockHolders
    yield* runners[index].kill
    const killed = Date.now()
    let again: number | undefined
    const phases = yield* Effect.forkChild(FailoverPhases.follow(
      cluster.schema,
      `127.0.0.1:${runners[index].port}`,
      holders,
      FailoverPhases.taskShard(victim.task),
      killed,
      () => again !== undefined
    ))
    while (again === undefined) {
      yield* Effect.sleep("50 millis")
      again = cluster.events().find((e) => e.event === "start" && e.task === victim.task && e.at > killed)?.at
    }
    yield* progress(`round ${round}: ${FailoverPhases.describe(yield* Fiber.join(phases))}`)
    yield* Effect.forEach(ids, (id) => via.call({ op: "interrupt", id }), { concurrency: "unbounded", discard: true })
    runners[index] = yield* cluster.start(`${victim.runner.replace(/-\d+$/, "")}-${round}`, env)
    yield* settled(runners)
    return again - killed
  })

/** `FAILOVERS` rounds of `failover`: each one's milliseconds. */
const failoverRounds = (cluster: TestCluster, runners: Array<RunnerProcess>, env: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const failovers: Array<number> = []
    for (let round = 1; round <= FAILOVERS; round++) {
      failovers.push(yield* failover(cluster, runners, round, env))
      yield* progress(`failover ${round}: ${fmt(failovers[round - 1] / 1000, 1)} s`)
    }
    return failovers
  })

/** Prints the failover rounds and their median. */
const failoverLine = (failovers: ReadonlyArray<number>) => {
  if (failovers.length === 0) return
  const sorted = [...failovers].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]
  console.log(`\nfailover, kill -9 to running elsewhere: median ${fmt(median / 1000, 1)} s of [${failovers.map((ms) => fmt(ms / 1000, 1)).join(", ")}] (goal ≤ 10 s)`)
}

/**
 * The single-process supervisor on the same database, started and warmed up (`WARM_UP` no-op tasks, as the runner
 * is): the measurement of one no-op burst of `NOOP_TASKS` on it, run as often as wanted until the scope closes, which
 * stops it and drops its schema.
 */
const singleProcess = (schema: string) =>
  Effect.gen(function*() {
    // its schema goes with it, as the cluster's does (it was left in the database before): dropped after the
    // supervisor's layer is released, the finalizer added first running last
    yield* Effect.addFinalizer(() =>
      onUrl(url!, Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP SCHEMA IF EXISTS ${sql(`${schema}_single`)} CASCADE`))
    )
    const services = yield* Layer.build(Tasks.layer({ maxWorkers: 50 }).pipe(
      Layer.provide(SqlTaskStore.layerPg({ url: Redacted.make(url!), schema: `${schema}_single`, maxConnections: 6 }))
    ))
    const tasks = Context.get(services, Tasks.Tasks)
    const Noop = Task.define("noop", { payload: Schema.Struct({}), success: Schema.Void })
    yield* tasks.register(Noop, () => Effect.void, yield* Effect.context<never>())
    // what a runner process has too (a service's all-tasks feed, `runner.ts`' follow and watch): the same work per change
    yield* Effect.provideService(TaskFeed.make(), Tasks.Tasks, tasks)
    const burst = (count: number) =>
      Effect.forEach(
        Array.from({ length: count }, (_, i) => i),
        () => Effect.flatMap(tasks.submit(Noop, {}), (handle) => handle.join),
        { concurrency: NOOP_IN_FLIGHT, discard: true }
      )
    // warmed up as the runner is: measured cold, its first tasks (compiling, the pool's first connections) cost more
    yield* burst(WARM_UP)
    let bursts = 0
    return Effect.gen(function*() {
      bursts++
      const pgBefore = yield* pgCpu(url!)
      // profiled as the runner's burst is, beside it (`CLUSTER_BENCH_PROFILE`)
      const profiler = PROFILE === undefined ? undefined : yield* startProfile
      const gc = gcMillis()
      const cpu = process.cpuUsage()
      const started = Date.now()
      yield* burst(NOOP_TASKS)
      const spent = process.cpuUsage(cpu)
      const gcMicros = (gcMillis() - gc) * 1000
      if (profiler !== undefined) yield* profiler(`${PROFILE}/noop-single${BURSTS === 1 ? "" : `-${bursts}`}.cpuprofile`)
      const millis = Date.now() - started
      const pg = pgSpent(pgBefore, yield* pgCpu(url!))
      return {
        rate: perSecond(NOOP_TASKS, millis),
        cpuPerTask: (spent.user + spent.system) / NOOP_TASKS,
        busyCpuPerTask: (spent.user + spent.system) / NOOP_TASKS,
        pgCpuPerTask: pg / NOOP_TASKS,
        gcPerTask: gcMicros / NOOP_TASKS,
        spread: `${fmt(millis / 1000, 1)} s`,
        perRunner: [(spent.user + spent.system) / NOOP_TASKS],
        // not run: its work would take from the supervisor measured in this very process
        control: { micros: Number.NaN, runs: 0 }
      } satisfies Measured
    })
  })

/**
 * The no-op comparison on the first placement's cluster of one runner (`runners`): each side warmed up alike
 * (`WARM_UP`), then `BURSTS` bursts of `NOOP_TASKS` on each, the sides taking turns (the first in odd rounds, the
 * second in even ones: a load that drifts over the rounds falls on both), each round printed.
 */
const noopComparison = (schema: string, runners: ReadonlyArray<RunnerProcess>) =>
  Effect.gen(function*() {
    yield* throughput(runners, "noop", {}, WARM_UP)
    const single = yield* singleProcess(schema)
    const idle = yield* idleCpu(runners)
    const clusterSide: Array<Measured> = []
    const singleSide: Array<Measured> = []
    for (let round = 1; round <= BURSTS; round++) {
      const onCluster = Effect.tap(
        throughput(runners, "noop", {}, NOOP_TASKS, BURSTS === 1 ? "noop" : `noop-${round}`, url!, idle.settled),
        (one) => Effect.sync(() => void clusterSide.push(one))
      )
      const onSingle = Effect.tap(single, (one) => Effect.sync(() => void singleSide.push(one)))
      yield* round % 2 === 1 ? Effect.andThen(onCluster, onSingle) : Effect.andThen(onSingle, onCluster)
      const [c, p] = [clusterSide.at(-1)!, singleSide.at(-1)!]
      yield* progress(`no-op round ${round} of ${BURSTS}: cluster of one ${fmt(c.rate)}/s, ${fmt(c.cpuPerTask)} µs CPU per task, ${fmt(c.busyCpuPerTask)} less idle, GC ${fmt(c.gcPerTask)} (${c.spread}); single process ${fmt(p.rate)}/s, ${fmt(p.cpuPerTask)} µs, GC ${fmt(p.gcPerTask)} (${p.spread}); ${fmt(c.rate / p.rate, 2)}×, ${idleText(idle)}, load ${loadAverage()}`)
    }
    return { cluster: bursts(clusterSide), single: bursts(singleSide), load: loadAverage() }
  }).pipe(Effect.scoped)

/**
 * A database of its own for the cluster of a placement other than the first, dropped when the scope closes: the
 * clusters' shard locks are PostgreSQL advisory locks, per database, so two clusters on one database would take each
 * other's shards.
 */
const databaseFor = (placement: string) =>
  Effect.gen(function*() {
    const name = `${new URL(url!).pathname.slice(1)}_${placement}_${process.pid}`
    const run = (statement: string) => onDatabase(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)))
    yield* Effect.acquireRelease(run(`CREATE DATABASE "${name}"`), () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
    const databaseUrl = new URL(url!)
    databaseUrl.pathname = `/${name}`
    return databaseUrl.toString()
  })

/** One placement's cluster: its runners (grown a runner at a time), its database, and its figures. */
interface Side {
  readonly placement: string
  readonly cluster: TestCluster
  readonly runners: Array<RunnerProcess>
  readonly databaseUrl: string
  readonly env: Readonly<Record<string, string>>
  readonly measured: Array<Bursts & { readonly load: string; readonly idleControl: CpuControl.Control }>
}

/** A cluster placing unkeyed tasks by `placement`, with its first runner started, settled and balanced. */
const side = (placement: string, first: boolean) =>
  Effect.gen(function*() {
    const databaseUrl = first ? url! : yield* databaseFor(placement)
    const env = { ...DIRECT, RUNNER_PLACEMENT: placement, ...(first ? {} : { CHAINJOBS_TEST_PG_URL: databaseUrl }) }
    const cluster = yield* makeCluster
    const runners = [yield* cluster.start("r1", env)]
    yield* settled(runners)
    yield* balanced(runners)
    return { placement, cluster, runners, databaseUrl, env, measured: [] } satisfies Side
  })

/**
 * Measured bursts per runner count, and per side of the no-op comparison (`CLUSTER_BENCH_BURSTS`, default 3), one
 * after the other, each printed: every figure is the median burst's (by rate), its bursts' range printed beside it.
 * One burst (the default until session 19) gave a figure that swung ±0.2 on the 3-runner ratio from run to run.
 */
const BURSTS = Number(process.env.CLUSTER_BENCH_BURSTS ?? 3)

/** A runner count's (or a side's) bursts, and the one whose rate is their median: what the tables show. */
interface Bursts {
  readonly bursts: ReadonlyArray<Measured>
  readonly median: Measured
}

/** `bursts` with their median burst by rate (the upper one of an even count). */
const bursts = (measured: ReadonlyArray<Measured>): Bursts => ({
  bursts: measured,
  median: [...measured].sort((a, b) => a.rate - b.rate)[Math.floor(measured.length / 2)]!
})

/** The rates of `measured`'s bursts. */
const ratesOf = (measured: Bursts) => measured.bursts.map((one) => one.rate)

/** The bursts' rates, lowest to highest, as a table cell: `2,870–3,010`. */
const rangeCell = (measured: Bursts) => {
  const rates = ratesOf(measured)
  return `${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))}`
}

/**
 * The ratio of `of`'s median rate to `to`'s, and the range it can take from one burst to another (the lowest burst
 * of `of` over the highest of `to`, the highest over the lowest): `1.86× (1.79–1.93×)`.
 */
const ratioCell = (of: Bursts, to: Bursts) => {
  const [ofRates, toRates] = [ratesOf(of), ratesOf(to)]
  return `${fmt(of.median.rate / to.median.rate, 2)}× (${fmt(Math.min(...ofRates) / Math.max(...toRates), 2)}–${
    fmt(Math.max(...ofRates) / Math.min(...toRates), 2)
  }×)`
}

/**
 * The measured I/O bursts on `side`'s runners (`BURSTS`), after a warm-up and the runners' idle CPU (measured once,
 * before the first); printed as they come.
 */
const ioBurst = (side: Side) =>
  Effect.gen(function*() {
    const n = side.runners.length
    yield* throughput(side.runners, "io", { ms: 20 }, IO_WARM_UP, undefined, side.databaseUrl)
    const idle = yield* idleCpu(side.runners)
    const measured: Array<Measured> = []
    for (let burst = 1; burst <= BURSTS; burst++) {
      const label = `io${n}-${side.placement}${BURSTS === 1 ? "" : `-${burst}`}`
      const one = yield* throughput(side.runners, "io", { ms: 20 }, IO_TASKS_PER_RUNNER, label, side.databaseUrl, idle.settled)
      measured.push(one)
      yield* progress(`${BURSTS === 1 ? "" : `burst ${burst} of ${BURSTS}: `}${n} runner${n === 1 ? "" : "s"}, placement ${side.placement}: ${fmt(one.rate)}/s, ${fmt(one.cpuPerTask)} µs CPU per task, ${fmt(one.busyCpuPerTask)} less idle, GC ${fmt(one.gcPerTask)} (${one.spread}; each runner per task of its own ${one.perRunner.map((micros) => fmt(micros)).join(" / ")} µs), ${idleText(idle)}, CPU control ${CpuControl.text(one.control, idle.control)} over ${one.control.runs} runs, load ${loadAverage()}`)
    }
    side.measured.push({ ...bursts(measured), load: loadAverage(), idleControl: idle.control })
  })

/** Final records heard in the feed's figure, and how many go in one notification (one alone; a burst's, `linger` packing them). */
const FEED_RECORDS = 10_000
const FEED_PACKINGS = [1, 15]

/** Prints what a runner spends per final record of another runner's it hears: the fan-out that grows with the runners. */
const feedLine = Effect.gen(function*() {
  const heard = yield* FeedHeard.heardCost(url!, FEED_PACKINGS, FEED_RECORDS)
  console.log(`\nanother runner's final records heard (${fmt(FEED_RECORDS)} each, sent by psql): ${
    heard.map((one) => `${fmt(one.micros)} µs CPU per record, ${one.perNotification} to a notification`).join("; ")
  } (each task's final record is heard by every other runner), load ${loadAverage()}`)
})

const main = Effect.gen(function*() {
  if (ONLY === "feed") return yield* feedLine
  const sides: Array<Side> = []
  // the no-op comparison and the failover rounds alone need the first placement's cluster only
  const placements = PLACEMENTS.length === 0 ? ["shard"] : ONLY === undefined ? PLACEMENTS : PLACEMENTS.slice(0, 1)
  for (const placement of placements) sides.push(yield* side(placement, sides.length === 0))
  const { cluster, env, runners } = sides[0]
  if (ONLY === "failover") {
    runners.push(yield* cluster.start("r2", env), yield* cluster.start("r3", env))
    yield* settled(runners)
    return failoverLine(yield* failoverRounds(cluster, runners, env))
  }

  // no-op routing cost: one runner vs one plain supervisor
  const noop = yield* noopComparison(cluster.schema, runners)
  const noopTable = () => {
    console.log(`\nno-op tasks on PostgreSQL (${fmt(NOOP_TASKS)} a burst, ${NOOP_IN_FLIGHT} in flight; each side's median burst of ${BURSTS}, the sides taking turns, after ${fmt(WARM_UP)} tasks each), load ${noop.load}:`)
    const row = (setup: string, measured: Bursts, ratio: string, goal: string, busy: string) =>
      [setup, fmt(measured.median.rate), rangeCell(measured), ratio, goal, cpuCell(measured.median), busy, gcCell(measured.median), pgCell(measured.median)]
    table([
      ["setup", "tasks/s", "bursts", "ratio (range)", "goal", "CPU per task", "less idle", "GC per task", "PostgreSQL CPU per task"],
      row("single-process supervisor", noop.single, "1.00×", "", ""),
      row("cluster of one runner", noop.cluster, ratioCell(noop.cluster, noop.single), "≥ 0.8×", busyCell(noop.cluster.median))
    ])
  }
  if (ONLY === "noop") return noopTable()
  // the other placements' first runners run as many no-op tasks unmeasured: each side's runner as warm as the first's
  for (const other of sides.slice(1)) yield* throughput(other.runners, "noop", {}, WARM_UP + BURSTS * NOOP_TASKS, undefined, other.databaseUrl)

  // I/O-bound scaling: each placement's cluster grown together, a runner at a time; their bursts take turns, the
  // order alternating from one runner count to the next
  for (let n = 1; n <= 3; n++) {
    if (n > 1) {
      for (const one of sides) one.runners.push(yield* one.cluster.start(`r${n}`, one.env))
      for (const one of sides) {
        yield* settled(one.runners)
        yield* balanced(one.runners)
      }
    }
    for (const one of n % 2 === 1 ? sides : [...sides].reverse()) yield* ioBurst(one)
  }

  const failovers = yield* failoverRounds(cluster, runners, env)

  console.log(`I/O-bound tasks (20 ms each), ${fmt(IO_TASKS_PER_RUNNER)} per runner a burst, ${IO_IN_FLIGHT_PER_RUNNER} in flight per runner, 50 workers per runner; each runner count's median burst of ${BURSTS} (by rate), after ${fmt(IO_WARM_UP)} tasks per runner:`)
  const goals = ["", "≥ 1.8×", "≥ 2.5×"]
  const rows: Array<Array<string>> = [["runners", "placement", "tasks/s", "bursts", "vs 1 runner (range)", "goal", "CPU per task (all runners)", "less idle", "GC per task", "PostgreSQL CPU per task", "CPU control (vs idle)", "load"]]
  for (let n = 1; n <= 3; n++) {
    for (const one of sides) {
      const measured = one.measured[n - 1]
      rows.push([String(n), one.placement, fmt(measured.median.rate), rangeCell(measured), ratioCell(measured, one.measured[0]), goals[n - 1], cpuCell(measured.median), busyCell(measured.median), gcCell(measured.median), pgCell(measured.median), CpuControl.text(measured.median.control, measured.idleControl), measured.load])
    }
  }
  table(rows)
  failoverLine(failovers)
  noopTable()
  yield* feedLine
})

if (url === undefined) {
  console.log("cluster bench skipped: set CHAINJOBS_TEST_PG_URL to a PostgreSQL database URL")
} else {
  await Effect.runPromise(Effect.scoped(main))
}
