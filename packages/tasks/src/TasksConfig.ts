/**
 * The settings of the supervisor (`Tasks`): how many tasks run at once and
 * the periods of its background work. A service of its own, so that a program
 * provides it once — from code with `layer`, or from the environment with
 * `layerFromEnv` — and the supervisor, a server's configuration and a
 * benchmark all read the same fields with the same defaults.
 *
 * @since 0.1.0
 */
import { Config, Context, Duration, Effect, Layer, Schema } from "effect"
import * as Settings from "./Settings.ts"

/** The supervisor's settings. */
export class TasksConfig extends Context.Service<TasksConfig, {
  /**
   * At most this many tasks run at once, all kinds together; the others wait
   * in priority order. A positive integer. Default: `100`.
   */
  readonly maxWorkers: number
  /**
   * How often the watchdog looks for running tasks that missed their
   * heartbeat; a task is failed at most this long after its heartbeat timeout.
   * Default: 10 seconds.
   */
  readonly heartbeatCheckInterval: Duration.Input
  /**
   * How long a shutdown lets running tasks finish before interrupting them.
   * Default: 30 seconds.
   */
  readonly shutdownGracePeriod: Duration.Input
  /** How often finished records past their retention are purged. Default: 1 minute. */
  readonly retentionSweepInterval: Duration.Input
  /**
   * The runner (`host:port`) this supervisor runs on, in a cluster of runners: every record it makes for a task
   * submitted to it names it (`TaskInfo.runner`) from the start, so that the runner's store view, reads and feed find
   * it named and copy no record to name it. Unset (the default) in a single process.
   */
  readonly runner?: string | undefined
}>()("@chainjobs/tasks/TasksConfig") {}

/** The default settings. */
export const defaults: TasksConfig["Service"] = {
  maxWorkers: 100,
  heartbeatCheckInterval: Duration.seconds(10),
  shutdownGracePeriod: Duration.seconds(30),
  retentionSweepInterval: Duration.minutes(1)
}

/** The given settings over the defaults (a shallow merge: a field omitted or `undefined` keeps its default). */
export const make = (options?: Settings.Given<TasksConfig["Service"]> | undefined): TasksConfig["Service"] =>
  Settings.withDefaults(defaults, options)

/** The given settings over the defaults, as a layer. */
export const layer = (options?: Settings.Given<TasksConfig["Service"]> | undefined): Layer.Layer<TasksConfig> =>
  Layer.succeed(TasksConfig)(make(options))

/** The default settings, as a layer. */
export const layerDefaults: Layer.Layer<TasksConfig> = layer()

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/**
 * The settings read under their `CHAINJOBS_` names — `CHAINJOBS_MAX_WORKERS`,
 * `CHAINJOBS_HEARTBEAT_CHECK_INTERVAL`, `CHAINJOBS_SHUTDOWN_GRACE`,
 * `CHAINJOBS_RETENTION_SWEEP_INTERVAL` — each defaulting as `defaults` does.
 */
export const config: Config.Config<TasksConfig["Service"]> = Config.all({
  maxWorkers: Config.schema(PositiveInt, "CHAINJOBS_MAX_WORKERS").pipe(Config.withDefault(defaults.maxWorkers)),
  heartbeatCheckInterval: Config.Duration("CHAINJOBS_HEARTBEAT_CHECK_INTERVAL").pipe(
    Config.withDefault(Duration.fromInputUnsafe(defaults.heartbeatCheckInterval))
  ),
  shutdownGracePeriod: Config.Duration("CHAINJOBS_SHUTDOWN_GRACE").pipe(
    Config.withDefault(Duration.fromInputUnsafe(defaults.shutdownGracePeriod))
  ),
  retentionSweepInterval: Config.Duration("CHAINJOBS_RETENTION_SWEEP_INTERVAL").pipe(
    Config.withDefault(Duration.fromInputUnsafe(defaults.retentionSweepInterval))
  )
})

/**
 * The settings from the current `ConfigProvider` (the environment unless one
 * is provided), with `options` over what was read.
 */
export const layerFromEnv = (
  options?: Settings.Given<TasksConfig["Service"]> | undefined
): Layer.Layer<TasksConfig, Config.ConfigError> =>
  Layer.effect(TasksConfig)(Effect.map(config, (read) => Settings.withDefaults(read, options)))
