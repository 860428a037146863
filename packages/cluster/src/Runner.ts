/**
 * One runner process of a chainjobs cluster, as a layer: the PostgreSQL
 * client shared by the task store and the cluster's runner and message
 * storage, the cluster's socket transport, this runner's own supervisor
 * (running the tasks of the shards it owns), the task entity, and the `Tasks`
 * service that answers for every task of the cluster (`ClusterTasks`).
 *
 * Recovery belongs to the shard owner: the local supervisor sees a store view
 * with nothing unfinished at start (a runner never takes over another's tasks
 * on its own), and a dead or departing runner's tasks are adopted from their
 * records by the runner that takes their shard (`TaskEntity.adoption`).
 *
 * Shutdown (the layer's scope closing, e.g. on SIGTERM) hands over instead of
 * finishing: the runner refuses new work, stops its tasks at their checkpoint
 * (left pending, as at a shutdown of one process), then leaves the cluster,
 * whose other runners take the shards and adopt the tasks.
 *
 * @since 0.1.0
 */
// each module by its own path: the package's index also loads its Redis client, about 650 modules, more than half of
// what a runner loads otherwise
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import { type Config, ConfigProvider, Context, type Duration, Effect, Layer, Metric, type Redacted, Schedule } from "effect"
import { EntityId, RunnerAddress, type Runners, RunnerStorage, Sharding, ShardId, ShardingConfig, SqlMessageStorage } from "effect/cluster"
import type { SocketServer } from "effect/socket"
import type { PgClient } from "@effect/sql-pg"
import { SqlClient, type SqlError } from "effect/sql"
import { SqlScheduleStore, SqlTaskStore } from "@chainjobs/store-sql"
import { type ScheduleStore, type TaskError, type TaskInfo, TaskInterest, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"
import * as ClusterFeed from "./ClusterFeed.ts"
import * as ClusterTasks from "./ClusterTasks.ts"
import * as DeadRunners from "./DeadRunners.ts"
import * as LiveRunners from "./LiveRunners.ts"
import * as LocalAdmission from "./LocalAdmission.ts"
import * as LocalPlacement from "./LocalPlacement.ts"
import * as RunnerConfig from "./RunnerConfig.ts"
import * as ShardLockReleases from "./ShardLockReleases.ts"
import * as SqlQuota from "./SqlQuota.ts"
import * as TaskEntity from "./TaskEntity.ts"

/** What a runner tells about itself: its address, the shards it holds, the tasks it runs. */
export class RunnerStatus extends Context.Service<RunnerStatus, {
  /** `host:port` of this runner's transport. */
  readonly address: string
  /** How many shards this runner holds now. */
  readonly shardsHeld: Effect.Effect<number>
  /** How many of them are open to submissions: their unfinished tasks adopted here (`OpenShards`). */
  readonly shardsOpen: Effect.Effect<number>
  /** How many of them have their guard open (`LocalAdmission`): open ones then admit straight into this runner's supervisor. */
  readonly shardsGuarded: Effect.Effect<number>
  /**
   * How many tasks admitted straight into this runner's supervisor its guards know (`LocalAdmission`): the unfinished
   * ones, which a guard hands over when its shard moves, and those that ended or left since the last prune (a second).
   */
  readonly directTasksKnown: Effect.Effect<number>
  /** Whether this runner holds the shard of the cluster's runner health check (`healthCheckName`). */
  readonly runsHealthCheck: Effect.Effect<boolean>
  /** How many tasks run on this runner now, and how many wait for a worker. */
  readonly tasks: Effect.Effect<{ readonly running: number; readonly pending: number }>
}>()("@chainjobs/cluster/RunnerStatus") {}

/** The name of effect's runner health check, a cluster singleton: the runner holding its shard pings every runner. */
export const healthCheckName = "effect/cluster/Sharding/RunnerHealth"

/** Shards this runner holds, labelled with its address. */
export const shardsHeld = Metric.gauge("chainjobs_runner_shards", { description: "Shards held by the runner" })
/** Tasks running on this runner, labelled with its address. */
export const tasksRunning = Metric.gauge("chainjobs_runner_tasks_running", { description: "Tasks running on the runner" })
/** Tasks waiting for a worker on this runner, labelled with its address. */
export const tasksPending = Metric.gauge("chainjobs_runner_tasks_pending", {
  description: "Tasks waiting for a worker on the runner"
})

/** The settings of a runner process. */
export interface RunnerOptions {
  /** The PostgreSQL database every runner of the cluster shares. */
  readonly databaseUrl: Redacted.Redacted<string>
  /** Where this runner is reached and how the cluster is cut (`RunnerConfig`). */
  readonly runner: RunnerConfig.RunnerSettings
  /** This runner's supervisor settings: `maxWorkers` is per runner. */
  readonly supervisor?: Partial<TasksConfig.TasksConfig["Service"]> | undefined
  /** Connections of the task store's PostgreSQL pool (the cluster's storage has 8 more of its own). Default: 10. */
  readonly maxConnections?: number | undefined
  /** The PostgreSQL schema of the task and cluster tables, made if missing. Default: the database's search path. */
  readonly schema?: string | undefined
  /** How the task store inserts new records (`SqlTaskStore.SqlTaskStoreConfig.pgInserts`). Default: `adaptive`. */
  readonly pgInserts?: SqlTaskStore.InsertMode | undefined
  /**
   * How often the runner looks for shards it holds that are not open yet, to adopt their unfinished tasks and open
   * them (`TaskEntity.adoption`); it also looks at once when a submission waits for a shard. Default: 250 ms.
   */
  readonly adoptionInterval?: Duration.Input | undefined
}

/**
 * The store as a runner's own supervisor sees it: every record it writes says
 * this runner runs it (`TaskInfo.runner`), and `unfinished` is empty, since
 * start-up recovery is the shard owner's (`TaskEntity.adoption`). A runner's
 * supervisor names the runner in its records itself (`TasksConfig.runner`,
 * from admission and adoption on): those pass as they are, no copy made.
 */
export const runnerView = (store: TaskStore.TaskStore["Service"], runner: string): TaskStore.TaskStore["Service"] => {
  const named = (info: TaskInfo.TaskInfo) => info.runner === runner
  const stamped = (info: TaskInfo.TaskInfo): TaskInfo.TaskInfo => named(info) ? info : { ...info, runner }
  const stampedAll = (infos: ReadonlyArray<TaskInfo.TaskInfo>) => infos.every(named) ? infos : infos.map(stamped)
  const insertAll = store.insertAll
  const updateAll = store.updateAll
  return TaskStore.TaskStore.of({
    ...store,
    insert: (info) => store.insert(stamped(info)),
    ...(insertAll === undefined ? {} : { insertAll: (infos) => insertAll(stampedAll(infos)) }),
    update: (info) => store.update(stamped(info)),
    ...(updateAll === undefined ? {} : { updateAll: (infos) => updateAll(stampedAll(infos)) }),
    updateProgress: (info) => store.updateProgress(stamped(info)),
    unfinished: Effect.succeed([])
  })
}

/** Why a runner could not start: its database, its transport port, or settings that cannot run together. */
export type StartError =
  | SqlError.SqlError
  | TaskError.TaskStoreError
  | SocketServer.SocketServerError
  | Config.ConfigError
  | RunnerConfig.InvalidRunnerSettings

/**
 * The runner's services over a given cluster (`Sharding`) and task store; its `TaskInterest` is what a `TaskFeed`
 * built over them declares, so that other runners send it only the intermediate records its followers want.
 */
const layerServices = (
  options: Pick<RunnerOptions, "supervisor" | "runner" | "adoptionInterval">
): Layer.Layer<
  Tasks.Tasks | RunnerStatus | TaskInterest.TaskInterest,
  SqlError.SqlError,
  Sharding.Sharding | RunnerStorage.RunnerStorage | Runners.Runners | TaskStore.TaskStore | PgClient.PgClient
> =>
  Layer.effectContext(Effect.gen(function*() {
    const store = yield* TaskStore.TaskStore
    const sharding = yield* Sharding.Sharding
    const address = `${options.runner.host}:${options.runner.port}`
    // a dead runner is marked unhealthy by every runner, also when it ran the health check itself
    yield* DeadRunners.watch(RunnerAddress.make(options.runner.host, options.runner.port), options.runner.healthCheckInterval)
    const supervisor = yield* Effect.provideService(
      Effect.provideService(Tasks.make, TasksConfig.TasksConfig, TasksConfig.make({ ...options.supervisor, runner: address })),
      TaskStore.TaskStore,
      runnerView(store, address)
    )
    // Its records name this runner from admission or adoption on (`TasksConfig.runner`): its reads need no copy, and
    // the supervisor itself serves the placement's and the guards' synchronous reads (`Tasks.freeWorker`, `Tasks.peek`).
    const local = supervisor
    // a live runner lets its tasks go at its next lock refresh, a third of the expiry, then hands them over
    const live = yield* LiveRunners.make(address, options.runner.lockExpiration)
    const entity = yield* TaskEntity.make(local, live)
    const admission = options.runner.directAdmission
      ? yield* LocalAdmission.make(local, options.runner.shards, entity.openShards)
      : LocalAdmission.none
    // a `Submit` from another runner is admitted under the shard's guard too, where one is open: no `Run` after it
    yield* Layer.build(TaskEntity.layer(entity, admission.submit))
    yield* TaskEntity.adoption(entity, options.runner.shards, options.adoptionInterval)
    // Runs before the supervisor's own shutdown: hand the tasks over rather than wait for them. Both refuse new
    // work at once (a submission neither admits directly nor through the entity), then hand over concurrently.
    yield* Effect.addFinalizer(() => Effect.all([admission.close, entity.close], { concurrency: "unbounded", discard: true }))
    const feed = yield* ClusterFeed.makeFromContext(local, address)
    const placing = RunnerConfig.placementOf(options.runner) === "local" ? yield* LocalPlacement.make(local, admission) : LocalPlacement.spread
    const tasks = yield* ClusterTasks.make(local, feed, admission, placing)
    const shards = Array.from({ length: options.runner.shards }, (_, i) => ShardId.make(TaskEntity.shardGroup, i + 1))
    const healthCheckShard = sharding.getShardId(EntityId.make(healthCheckName), "default")
    const status = RunnerStatus.of({
      address: `${options.runner.host}:${options.runner.port}`,
      shardsHeld: Effect.sync(() => shards.filter((shard) => sharding.hasShardId(shard)).length),
      shardsOpen: Effect.sync(() => entity.openShards.count),
      shardsGuarded: admission.guarded,
      directTasksKnown: admission.known,
      runsHealthCheck: Effect.sync(() => sharding.hasShardId(healthCheckShard)),
      tasks: Effect.map(local.stats, ({ pending, running }) => ({ running, pending }))
    })
    // The gauges follow the runner's status every second: /metrics shows them per runner.
    const attributes = { runner: status.address }
    // the shards last logged: each change is logged, what a failover or a rebalance looks like in a runner's log
    let told = ""
    const report = Effect.gen(function*() {
      const held = yield* status.shardsHeld
      yield* Metric.update(Metric.withAttributes(shardsHeld, attributes), held)
      const { pending, running } = yield* status.tasks
      yield* Metric.update(Metric.withAttributes(tasksRunning, attributes), running)
      yield* Metric.update(Metric.withAttributes(tasksPending, attributes), pending)
      const shards = `held ${held}, open to submissions ${yield* status.shardsOpen}, guarded ${yield* status.shardsGuarded}${
        (yield* status.runsHealthCheck) ? ", the runners' health check among them" : ""
      }`
      if (shards !== told) yield* Effect.logInfo(`Shards of runner ${status.address}: ${(told = shards)}`)
    })
    yield* Effect.forkScoped(Effect.repeat(report, Schedule.spaced("1 second")))
    return Context.make(Tasks.Tasks, tasks).pipe(
      Context.add(RunnerStatus, status),
      Context.add(TaskInterest.TaskInterest, feed.interest)
    )
  }))

/**
 * The cluster's storage on the shared database: its SQL runner storage, with the shard-lock releases taking turns
 * (`ShardLockReleases`), and its SQL message storage. Building it makes their tables where missing.
 */
const layerStorage = (settings: RunnerConfig.RunnerSettings) =>
  Layer.mergeAll(ShardLockReleases.layer, SqlMessageStorage.layer.pipe(Layer.provide(NodeCrypto.layerDigest))).pipe(
    Layer.provide(ShardingConfig.layerFromEnv(RunnerConfig.toShardingConfig(settings)))
  )

/**
 * The cluster transport (socket runners, `Sharding`) over a storage given (`layerStorage`), configured only by
 * `settings` (no environment names).
 */
const layerTransport = (settings: RunnerConfig.RunnerSettings) =>
  NodeClusterSocket.layer({ storage: "byo", serialization: "ndjson", shardingConfig: RunnerConfig.toShardingConfig(settings) }).pipe(
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({})))
  )

/**
 * Faults injected into a runner's parts as the database would make them, for tests: each wraps one service of the
 * runner, and every part of the runner then uses the wrapped one. The runner is otherwise `layer`'s own, start-up
 * lock, pools and all. A production runner takes none.
 */
export interface RunnerFaults {
  /** Wraps the task store: its supervisor's writes, its entity's and adoption's reads, the feed's re-reads. */
  readonly store?: ((store: TaskStore.TaskStore["Service"]) => TaskStore.TaskStore["Service"]) | undefined
  /** Wraps the cluster's runner storage: shard locks, runners and their health. */
  readonly runnerStorage?:
    | ((storage: RunnerStorage.RunnerStorage["Service"]) => RunnerStorage.RunnerStorage["Service"])
    | undefined
}

/**
 * `layer` with its `service` replaced by `fault` of it, where a fault is given: what the layer's users (and whoever
 * it is merged to) then see. `layer` is built once, its two uses sharing it (layers are memoized within a build).
 */
const faulted = <I, S>(service: Context.Key<I, S>, fault: ((service: S) => S) | undefined) =>
<A, E, R>(layer: Layer.Layer<A | I, E, R>): Layer.Layer<A | I, E, R> =>
  fault === undefined
    ? layer
    : Layer.merge(layer, Layer.effect(service, Effect.map(Effect.service(service), fault)).pipe(Layer.provide(layer)))

/**
 * A whole runner: database, store, cluster transport, supervisor and entity.
 * The cluster's storage has a connection pool of its own: shard locks are
 * refreshed on a deadline, and must not wait behind a burst of task writes.
 * Settings that cannot run together fail it with `InvalidRunnerSettings`
 * before it connects to anything. Tests inject `faults` (none by default).
 */
export const layer = (
  options: RunnerOptions,
  faults: RunnerFaults = {}
): Layer.Layer<
  Tasks.Tasks | RunnerStatus | TaskInterest.TaskInterest | TaskStore.TaskStore | ScheduleStore.ScheduleStore,
  StartError
> => {
  const pool = (maxConnections: number) =>
    SqlTaskStore.layerPgClient({ url: options.databaseUrl, maxConnections, schema: options.schema })
  // the store's pool also keeps the submission quota, shared by every runner (`SqlQuota`)
  const store = Layer.mergeAll(SqlTaskStore.layer({ pgInserts: options.pgInserts }), SqlScheduleStore.layer, SqlQuota.layer).pipe(
    Layer.provide(pool(options.maxConnections ?? 10)),
    faulted(TaskStore.TaskStore, faults.store)
  )
  // The tables, one runner at a time: the store's first (it makes the schema the cluster's tables then go to), then
  // the cluster's. The transport (the socket runner and its sharding) is built after the lock is let go, so that
  // runners starting together wait for each other's tables only: three runners' builds at load 14 came 1.3–1.5 s apart
  // while one held the lock for its whole build, 0.9 s apart with the lock over the tables alone.
  const tables = oneAtATime(
    layerStorage(options.runner).pipe(
      Layer.provide(pool(clusterConnections)),
      faulted(RunnerStorage.RunnerStorage, faults.runnerStorage),
      Layer.provideMerge(store)
    ),
    pool(1)
  )
  const storage = layerTransport(options.runner).pipe(Layer.provideMerge(tables))
  // the task-change feed's own: its listener holds a connection, and its notifications never wait behind task writes
  const runner = layerServices(options).pipe(Layer.provide(pool(feedConnections)), Layer.provideMerge(storage))
  // Settings that cannot run together are refused before anything is built: checked only in `layerServices`, after
  // the transport, such a runner would join the cluster and take shards before failing (and, in a crash loop, move
  // them back and forth).
  return Layer.unwrap(Effect.as(RunnerConfig.validate(options.runner), runner))
}

/**
 * Builds `layer` (whose tables are made on start) while holding a PostgreSQL
 * advisory lock of the schema, taken on a connection of `lockClient`'s own.
 * Runners starting together on a fresh schema would race the same `CREATE
 * TABLE` statements, and the catalog's unique index fails all but one of
 * them; one at a time, each later runner finds the tables made.
 */
const oneAtATime = <A, E, R, E2>(
  layer: Layer.Layer<A, E, R>,
  lockClient: Layer.Layer<SqlClient.SqlClient, E2>
): Layer.Layer<A, E | E2 | SqlError.SqlError, R> =>
  Layer.effectContext(Effect.gen(function*() {
    const scope = yield* Effect.scope
    return yield* Effect.scoped(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* Effect.acquireRelease(
        sql`SELECT pg_advisory_lock(hashtext(${startupLockName} || current_schema()))`,
        () => Effect.ignore(sql`SELECT pg_advisory_unlock(hashtext(${startupLockName} || current_schema()))`)
      )
      return yield* Layer.buildWithScope(layer, scope)
    })).pipe(Effect.provide(lockClient))
  }))

/** The name of the advisory lock runners start under, one per schema. */
const startupLockName = "chainjobs/runner-start-up/"

/** Connections of the task-change feed's own pool (`ClusterFeed`): its listener, and its notifications. */
const feedConnections = 2

/** Connections of the cluster storage's own pool: shard locks, messages, runners. */
const clusterConnections = 8
