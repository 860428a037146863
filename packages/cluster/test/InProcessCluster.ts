/**
 * Runners of a test cluster inside the test process: each one `Runner.layer`
 * (its own PostgreSQL pools, socket transport on a free 127.0.0.1 port,
 * supervisor, task entity, feed) on one fresh database of the test server,
 * with the test kinds below registered on it. A runner is stopped by closing
 * its scope, which hands its shards over as SIGTERM does a runner process;
 * `kill -9` stays with the child processes of `Cluster.test.ts`.
 *
 * Code that runs in the test process is what mutation testing sees: these
 * runners let the cluster's routing (`ClusterTasks`, `TaskEntity`), its feed
 * and `Runner` itself be tested where Stryker can switch a mutant on.
 */
import { Cause, Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Redacted, Schema, Scope } from "effect"
import { RunnerStorage, Sharding } from "effect/cluster"
import { SqlClient } from "effect/sql"
import { Runner, RunnerConfig, TaskEntity } from "@chainjobs/cluster"
import { Task, TaskContext, TaskInterest, Tasks, TaskStore } from "@chainjobs/tasks"
import { directAdmissionByDefault, freePort, onDatabase, pgTestUrl } from "./RunnerProcess.ts"

/** One thing a test kind did, on which runner. */
export interface Happening {
  readonly event: "start" | "end" | "finalizer" | "tick"
  readonly task: string
  readonly runner: string
  readonly attempt: number
  /** The scan's next step when it started (`Scan`). */
  readonly next?: number
}

/** Waits until the test opens the gate `gate`, then answers the runner it ran on. */
export const Gated = Task.define("gated", {
  payload: Schema.Struct({ gate: Schema.String }),
  success: Schema.String
})

/** Holds its key until the gate `gate` opens (or it is interrupted); a second submission of the key is refused. */
export const Hold = Task.define("hold", {
  payload: Schema.Struct({ key: Schema.String, gate: Schema.String }),
  success: Schema.String,
  policy: { key: ({ key }) => key, onConflict: "reject" }
})

/** Counts `from..to`, one step per gate opening `<gate>/<step>`, checkpointed after each; resumes where it stopped. */
export const Scan = Task.define("scan", {
  payload: Schema.Struct({ gate: Schema.String, from: Schema.Number, to: Schema.Number }),
  success: Schema.Number,
  checkpoint: Schema.Struct({ next: Schema.Number, acc: Schema.Number }),
  policy: { onRestart: "resume" }
})

/**
 * Waits for the gate `gate`, then answers `n`. Its payload is encoded (`n` as a decimal string), and its key is
 * `n` decoded: `"7"` and `"007"` are the same key.
 */
export const Numbered = Task.define("numbered", {
  payload: Schema.Struct({ n: Schema.NumberFromString, gate: Schema.String }),
  success: Schema.Number,
  policy: { key: ({ n }) => String(n), onConflict: "reject" }
})

/** Runs until interrupted; its finalizer then waits until the gate `gate` opens: a hand-over that takes a while. */
export const Sticky = Task.define("sticky", { payload: Schema.Struct({ gate: Schema.String }), success: Schema.Void })

/** Records a tick: what the schedules and daemons of the tests submit. */
export const Tick = Task.define("tick", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

/** A runner of the test cluster, in this process. */
export interface TestRunner {
  readonly name: string
  /** `host:port` of its transport: what its records' `runner` says. */
  readonly address: string
  readonly tasks: Tasks.Tasks["Service"]
  readonly status: Runner.RunnerStatus["Service"]
  readonly interest: TaskInterest.TaskInterest["Service"]
  readonly store: TaskStore.TaskStore["Service"]
  /** Whether this runner holds the shard of entity `entityId` (a task's `TaskEntity.placement`) now. */
  holds(entityId: string): boolean
  /**
   * Stops the runner as SIGTERM would: it refuses new work, hands its tasks over and leaves the cluster. The stop runs
   * on a fiber of its own: a caller interrupted meanwhile (a failed test's teardown) stops waiting, and the stop goes
   * on, its gates opened by the teardown (`start`).
   */
  readonly stop: Effect.Effect<void>
}

/** A cluster under test: a fresh database, what the kinds did, their gates, and runners started on demand. */
export interface TestCluster {
  /** The cluster's own database (its runners' schema is `chainjobs`): where a test makes faults of the database's own. */
  readonly databaseUrl: string
  readonly happenings: Array<Happening>
  /** Every scan attempt that started while another attempt of the same scan still ran, as `<task>: <runner> <attempt> while <runner> <attempt>`. */
  readonly overlaps: Array<string>
  /** Opens gate `name` (made if not yet waited on). */
  open(name: string): Effect.Effect<void>
  /** Starts a runner named `name`, stopped at the latest when the test's scope closes. */
  start(name: string, options?: StartOptions): Effect.Effect<TestRunner, never, Scope.Scope>
}

/** A runner's settings besides its name. */
export interface StartOptions {
  /** The supervisor's `maxWorkers`. Default: 20. */
  readonly maxWorkers?: number
  /**
   * A fault injected into the runner's task store (every use of it: its supervisor's, its entity's and adoption's
   * reads), as the database would make it (`Runner.RunnerFaults`: the runner is otherwise `Runner.layer`'s own).
   */
  readonly storeFault?: (store: TaskStore.TaskStore["Service"]) => TaskStore.TaskStore["Service"]
  /**
   * A fault injected into the runner's cluster runner storage (shard locks, runners and their health), as the
   * database would make it (`Runner.RunnerFaults`).
   */
  readonly runnerStorageFault?: (storage: RunnerStorage.RunnerStorage["Service"]) => RunnerStorage.RunnerStorage["Service"]
  /**
   * Submissions of held shards admitted directly (`LocalAdmission`). Default: `directAdmissionByDefault` (the test
   * process's `CHAINJOBS_RUNNER_DIRECT_ADMISSION`, else a runner's default, on).
   */
  readonly directAdmission?: boolean
  /** How often the runner's adoption looks for held shards not open yet (`RunnerOptions.adoptionInterval`). */
  readonly adoptionInterval?: Duration.Input
  /**
   * Where unkeyed tasks submitted on the runner go (`RunnerSettings.placement`). Default: a runner's with its direct
   * admission (`RunnerConfig.defaultPlacement`: `local`, or `shard` without direct admission).
   */
  readonly placement?: RunnerConfig.Placement
  /** How the runner's task store inserts new records (`RunnerOptions.pgInserts`). Default: the runner's (`adaptive`). */
  readonly pgInserts?: Runner.RunnerOptions["pgInserts"]
}

/** Shards of the test clusters: few, so that a runner starts quickly, enough that two runners each hold some. */
export const shards = 12

let clusters = 0

/**
 * A database of its own for one test cluster, dropped when the scope closes: the cluster's shard locks are
 * PostgreSQL advisory locks, which are per database, not per schema, so two clusters on one database (two test
 * files, two mutation-test workers) would hold each other's shards.
 */
const freshDatabase = Effect.gen(function*() {
  const name = `inproc_${process.pid}_${++clusters}`
  const run = (statement: string) => onDatabase(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)))
  yield* Effect.acquireRelease(run(`CREATE DATABASE "${name}"`), () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
  const url = new URL(pgTestUrl ?? "")
  url.pathname = `/${name}`
  return url.toString()
})

/** A fresh cluster in the current scope; its database is dropped when the scope closes (after its runners stopped). */
export const makeCluster: Effect.Effect<TestCluster, never, Scope.Scope> = Effect.gen(function*() {
  const databaseUrl = yield* freshDatabase
  const happenings: Array<Happening> = []
  const gates = new Map<string, Deferred.Deferred<void>>()
  /** Set by the teardown: every gate opens, those waited on later too. */
  let tearingDown = false
  const gate = (name: string) => {
    let found = gates.get(name)
    if (found === undefined) {
      gates.set(name, found = Deferred.makeUnsafe<void>())
      if (tearingDown) Deferred.doneUnsafe(found, Exit.void)
    }
    return found
  }
  /**
   * Opens every gate, those made later too: a runner's stop waits for its tasks' hand-over (`Sticky`'s finalizer waits
   * for its gate), and a test that failed before opening its gates would hang in its teardown, ending by vitest's
   * timeout with its own failure never told.
   */
  const openAll = Effect.sync(() => {
    tearingDown = true
    gates.forEach((found) => Deferred.doneUnsafe(found, Exit.void))
  })
  const record = (happening: Happening) => Effect.sync(() => void happenings.push(happening))
  const overlaps: Array<string> = []
  /** The scan attempts running now, by task: `<runner> <attempt>`. */
  const scanning = new Map<string, string>()

  /** The test kinds as runner `name` runs them. */
  const kinds = (name: string) =>
    Layer.mergeAll(
      Task.implement(Gated, ({ gate: g }) => Effect.as(Deferred.await(gate(g)), name)),
      Task.implement(Hold, ({ gate: g }) =>
        Effect.gen(function*() {
          const { attempt, taskId } = yield* TaskContext.TaskContext
          yield* Effect.addFinalizer(() => record({ event: "finalizer", task: taskId, runner: name, attempt }))
          yield* record({ event: "start", task: taskId, runner: name, attempt })
          yield* Deferred.await(gate(g))
          return name
        })),
      Task.implement(Scan, ({ from, gate: g, to }) =>
        Effect.gen(function*() {
          const { attempt, taskId } = yield* TaskContext.TaskContext
          // an attempt lasts until its fiber ends, however it ends (handed over, interrupted, finished)
          const self = `${name} ${attempt}`
          const running = scanning.get(taskId)
          if (running !== undefined) overlaps.push(`${taskId}: ${self} while ${running}`)
          scanning.set(taskId, self)
          yield* Effect.addFinalizer(() => Effect.sync(() => scanning.get(taskId) === self && scanning.delete(taskId)))
          const last = yield* Task.loadCheckpoint(Scan)
          let { acc, next } = Option.getOrElse(last, () => ({ next: from, acc: 0 }))
          yield* record({ event: "start", task: taskId, runner: name, attempt, next })
          while (next <= to) {
            yield* Deferred.await(gate(`${g}/${next}`))
            acc += next
            next++
            yield* Task.saveCheckpoint(Scan, { next, acc })
          }
          yield* record({ event: "end", task: taskId, runner: name, attempt })
          return acc
        })),
      Task.implement(Numbered, ({ gate: g, n }) => Effect.as(Deferred.await(gate(g)), n)),
      Task.implement(Sticky, ({ gate: g }) =>
        Effect.gen(function*() {
          const { attempt, taskId } = yield* TaskContext.TaskContext
          yield* Effect.addFinalizer(() =>
            Effect.andThen(record({ event: "finalizer", task: taskId, runner: name, attempt }), Deferred.await(gate(g))))
          yield* record({ event: "start", task: taskId, runner: name, attempt })
          return yield* Effect.never
        })),
      Task.implement(Tick, (_, { attempt, taskId }) => record({ event: "tick", task: taskId, runner: name, attempt }))
    )

  const startOnce = (name: string, options: StartOptions) =>
    Effect.gen(function*() {
      const port = yield* freePort
      const scope = yield* Scope.fork(yield* Effect.scope)
      // before this runner's stop when the test's scope closes (finalizers run last added first)
      yield* Effect.addFinalizer(() => openAll)
      const runnerOptions: Runner.RunnerOptions = {
        databaseUrl: Redacted.make(databaseUrl),
        // assignments re-read and messages polled four times as often as by default: shards settle sooner
        runner: {
          ...RunnerConfig.defaults,
          port,
          shards,
          refreshInterval: Duration.millis(250),
          messagePollInterval: Duration.millis(250),
          directAdmission: options.directAdmission ?? directAdmissionByDefault,
          // unset: derived from the direct admission (`RunnerConfig.placementOf`)
          placement: options.placement
        },
        supervisor: { maxWorkers: options.maxWorkers ?? 20, shutdownGracePeriod: "5 seconds" },
        maxConnections: 4,
        adoptionInterval: options.adoptionInterval,
        pgInserts: options.pgInserts,
        // a schema of the runners' own, made by the first to start
        schema: "chainjobs"
      }
      const runner = Runner.layer(runnerOptions, { store: options.storeFault, runnerStorage: options.runnerStorageFault })
      const built = yield* Layer.buildWithScope(Layer.provideMerge(kinds(name), runner), scope).pipe(
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      const status = Context.get(built, Runner.RunnerStatus)
      const testRunner: TestRunner = {
        name,
        address: status.address,
        tasks: Context.get(built, Tasks.Tasks),
        status,
        interest: Context.get(built, TaskInterest.TaskInterest),
        store: Context.get(built, TaskStore.TaskStore),
        // the runner's `Sharding` is among what it builds, though its layer's type leaves it out
        holds: (entityId) => {
          const sharding = Context.getUnsafe(built as Context.Context<unknown>, Sharding.Sharding)
          return sharding.hasShardId(TaskEntity.shardOf(sharding, entityId))
        },
        stop: Effect.flatMap(Effect.forkDetach(Scope.close(scope, Exit.void)), Fiber.join)
      }
      return testRunner
    })

  return {
    databaseUrl,
    happenings,
    overlaps,
    open: (name) => Effect.asVoid(Deferred.succeed(gate(name), undefined)),
    start: (name, options = {}) =>
      startOnce(name, options).pipe(
        // the port was free when picked, but another process bound it first: pick another
        Effect.retry({ while: (error) => error._tag === "SocketServerError", times: 4 }),
        Effect.orDie
      )
  }
})

/**
 * Fails the test with `message`, logged at once too: a test's teardown can hang on what the test waited for (a
 * runner's stop waiting for a gate never opened), and the test then ends by its timeout, this failure never told.
 */
export const giveUp = (message: string) => Effect.andThen(Effect.logError(message), Effect.die(new Error(message)))

/** Waits until every shard is held and each of `runners` holds some (at most 20 s; then fails saying what it saw). */
export const settled = (runners: ReadonlyArray<TestRunner>) =>
  Effect.gen(function*() {
    for (;;) {
      const held = yield* Effect.forEach(runners, (runner) => runner.status.shardsHeld)
      if (held.reduce((sum, n) => sum + n, 0) === shards && held.every((n) => n > 0)) return
      yield* Effect.sleep("100 millis")
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: "20 seconds",
      orElse: () =>
        Effect.flatMap(
          Effect.forEach(runners, (runner) => Effect.map(runner.status.shardsHeld, (n) => `${runner.name} ${n}`)),
          (held) => giveUp(`the shards never settled over the runners: ${held.join(", ")} of ${shards}`)
        )
    })
  )

/**
 * The first of `candidates` whose placement `runner` holds. A runner may hold no shard for a moment (shards being
 * moved): then it looks again every 50 ms, letting the runner take its shards, at most 20 s; then fails saying so.
 */
export const firstHeld = (runner: TestRunner, candidate: (i: number) => string, placementOf: (candidate: string) => string) => {
  // what the runner held while it was looked at, for the failure's message
  const seen: Array<number> = []
  return Effect.gen(function*() {
    for (;;) {
      // 12 shards: among 10,000 candidates, one on each held shard
      for (let i = 0; i < 10_000; i++) {
        const found = candidate(i)
        if (runner.holds(placementOf(found))) return found
      }
      seen.push(yield* runner.status.shardsHeld)
      yield* Effect.sleep("50 millis")
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: "20 seconds",
      orElse: () =>
        giveUp(
          `runner ${runner.name} held none of the candidates' shards for 20 s; shards it held meanwhile: ` +
            `${Math.min(...seen)} to ${Math.max(...seen)} (${seen.filter((n) => n === 0).length} of ${seen.length} looks: none)`
        )
    })
  )
}

/** A key of `kind` whose tasks `runner` owns now (its shard is held there). */
export const keyOn = (runner: TestRunner, kind: string, prefix = "key") =>
  firstHeld(runner, (i) => `${prefix}-${i}`, (key) => TaskEntity.placement({ id: "", kind, key }))

/** A task id whose unkeyed task `runner` owns now. */
export const idOn = (runner: TestRunner, prefix = "task") =>
  firstHeld(runner, (i) => `${prefix}-${i}`, (id) => TaskEntity.placement({ id, kind: "", key: null }))

/** Polls `check` every 50 ms until it holds (at most 20 s; then fails with `what()`, saying what was seen). */
export const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, what: () => string) =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* Effect.sleep("50 millis")
  }).pipe(
    Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => giveUp(`never happened: ${what()}`) })
  )

/**
 * Waits for `effect` at most `duration` (default 20 s); then fails saying `what`, with what `seen` saw at that moment
 * (itself bounded: a look that hangs too is told so). For the waits a hang could sit in (a join, a stop, a store's
 * held call): a hang then tells what it waited for and where the cluster stood (logged at once too: `giveUp`).
 */
export const within = <A, E, R, R2>(
  effect: Effect.Effect<A, E, R>,
  what: string,
  seen: Effect.Effect<string, never, R2>,
  duration: Duration.Input = "20 seconds"
) =>
  Effect.timeoutOrElse(effect, {
    duration,
    orElse: () =>
      Effect.flatMap(
        Effect.timeoutOrElse(seen, { duration: "5 seconds", orElse: () => Effect.succeed("(the look itself took over 5 s)") }),
        (state) => giveUp(`waited ${Duration.format(Duration.fromInputUnsafe(duration))} in vain: ${what}; seen: ${state}`)
      )
  })

/**
 * Where a cluster stands, for a wait's failure: each of `runners`' shards (held, open, guarded) and tasks (running,
 * waiting), and each of `ids`' stored record (status, runner, attempt; read through `reader`'s store) and story.
 * Each look is bounded: a runner whose status hangs (stopping) is told so.
 */
export const snapshot = (cluster: TestCluster, runners: ReadonlyArray<TestRunner>, reader: TestRunner, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const bounded = <A>(look: Effect.Effect<string, A>) =>
      look.pipe(
        Effect.catchCause((cause) => Effect.succeed(`failed: ${Cause.pretty(cause).split("\n")[0]}`)),
        Effect.timeoutOrElse({ duration: "1 second", orElse: () => Effect.succeed("no answer in 1 s") })
      )
    const states = yield* Effect.forEach(runners, (runner) =>
      bounded(Effect.gen(function*() {
        const { pending, running } = yield* runner.status.tasks
        return `${runner.name}: shards held ${yield* runner.status.shardsHeld}, open ${yield* runner.status
          .shardsOpen}, guarded ${yield* runner.status.shardsGuarded}; tasks running ${running}, waiting ${pending}`
      })).pipe(Effect.map((state) => state.startsWith(runner.name) ? state : `${runner.name}: ${state}`)))
    const records = yield* Effect.forEach(ids, (id) =>
      bounded(Effect.map(reader.store.get(id), Option.match({
        onNone: () => "no record",
        onSome: (info) => `${info.status} on ${info.runner ?? "?"}, attempt ${info.attempt}`
      }))).pipe(
          Effect.map((record) => `${id}: ${record}; story ${JSON.stringify(story(cluster, id))}`)
        ))
    return [...states, ...records].join(" | ")
  })

/** What the kinds did with task `id`, as `<event> <runner> <attempt>` (a scan's start with its next step). */
export const story = (cluster: TestCluster, id: string) =>
  cluster.happenings.filter((h) => h.task === id).map((h) =>
    `${h.event} ${h.runner} ${h.attempt}${h.next === undefined ? "" : ` from ${h.next}`}`)

/** Waits until every shard `runner` holds has its guard open (`LocalAdmission`), saying what it saw if never. */
export const guarding = (runner: TestRunner) =>
  Effect.gen(function*() {
    let seen = ""
    yield* eventually(
      Effect.gen(function*() {
        const held = yield* runner.status.shardsHeld
        const guarded = yield* runner.status.shardsGuarded
        seen = `${guarded} of ${held} held`
        return held > 0 && guarded === held
      }),
      () => `${runner.name} guards every shard it holds: ${seen}`
    )
  })

/** An id of the task entity of `id` (the same bucket, so the same shard) other than `id`. */
export const sameBucket = (id: string) => {
  for (let i = 0;; i++) {
    const other = `${id}-${i}`
    if (TaskEntity.placement({ id: other, kind: "", key: null }) === TaskEntity.placement({ id, kind: "", key: null })) return other
  }
}

/** Submits on `runner` a scan of steps 1 to 2 for each of `ids` (its gate named by its id), and waits until each has saved its first step. */
export const scansAtSecondStep = (cluster: TestCluster, runner: TestRunner, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* Effect.forEach(ids, (id) => runner.tasks.submit(Scan, { gate: id, from: 1, to: 2 }, { id }), { discard: true })
    yield* Effect.forEach(ids, (id) => cluster.open(`${id}/1`), { discard: true })
    yield* Effect.forEach(ids, (id) =>
      eventually(
        Effect.map(Effect.orDie(runner.tasks.get(id)), (info) => (info.checkpoint as { next?: number } | null)?.next === 2),
        () => `${id} saves its first step: ${JSON.stringify(story(cluster, id))}`
      ), { discard: true })
  })

/** The scans among `ids` whose shard `runner` holds (some, or it fails), once each has started again there. */
export const takenOver = (cluster: TestCluster, runner: TestRunner, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const moved = ids.filter((id) => runner.holds(TaskEntity.placement({ id, kind: "scan", key: null })))
    if (moved.length === 0) return yield* Effect.die(new Error(`${runner.name} holds the shard of no scan`))
    yield* Effect.forEach(moved, (id) =>
      eventually(
        Effect.sync(() => story(cluster, id).some((line) => line.startsWith(`start ${runner.name}`))),
        () => `${id} starts again on ${runner.name}: ${JSON.stringify(story(cluster, id))}`
      ), { discard: true })
    return moved
  })
