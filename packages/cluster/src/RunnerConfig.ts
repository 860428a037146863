/**
 * The settings of one runner process: where the other runners reach it, how
 * the shards are cut, how fast a dead runner's shards move, whether it
 * admits its own shards' submissions directly (`LocalAdmission`), and where
 * it places the unkeyed tasks submitted on it (`LocalPlacement`). The first
 * three map onto `effect/cluster`'s `ShardingConfig` (`toShardingConfig`), set
 * in full, so that none of the cluster's own environment names (`PORT`,
 * `HOST`, …) leak in.
 *
 * Failover timing. After `kill -9` of a runner its shards move once the others
 * have seen it dead and its shard locks are free:
 * - its PostgreSQL session ends with the process, so its advisory locks free at
 *   once; `shardLockExpiration` only bounds a runner that is frozen, not dead;
 * - the runners ping each other every `healthCheckInterval` (a dead one fails
 *   after about 2.5 s of retries), re-read assignments every
 *   `refreshInterval`, and a new owner reads the persisted messages of the
 *   shards it took at once, then every `messagePollInterval`;
 * - every runner marks a dead one unhealthy (`DeadRunners`), not only the one
 *   running effect's health check: when that one died, its shards waited for
 *   its row in the runner storage to lapse (its heartbeat older than
 *   `lockExpiration`, 6.7–10 s after the kill).
 * The defaults here (1 s, 1 s, 1 s; locks held 10 s, refreshed every 3.3 s)
 * move shards in about 5 s instead of the cluster's defaults' ~26 s. The
 * price: more queries (each runner polls messages and assignments every
 * second), and a runner whose lock refresh takes longer than a third of
 * `lockExpiration` (an overloaded database, a long GC pause, a suspended VM)
 * gives its shards up and stops its tasks, which continue elsewhere. A shorter
 * expiry bounds how long a frozen runner keeps its shards; a longer one
 * tolerates slower refreshes.
 *
 * @since 0.1.0
 */
import { Config, ConfigProvider, Duration, Effect, Option, Schema } from "effect"
import { RunnerAddress, type ShardingConfig } from "effect/cluster"

/**
 * Where a runner places an unkeyed task submitted on it: `shard`, on the shard its id hashes to, whichever runner
 * holds it (tasks spread over every runner); `local`, on a shard this runner holds and guards while it has a worker
 * free for the task (no message to another runner), else as `shard` does (`LocalPlacement`). Keyed tasks follow their
 * key either way.
 */
export const Placement = Schema.Literals(["shard", "local"])
/** @see Placement */
export type Placement = typeof Placement.Type

/** The settings of one runner. */
export interface RunnerSettings {
  /** The host other runners reach this one at. Default: `127.0.0.1`. */
  readonly host: string
  /** The TCP port of the runner transport (not the HTTP port). Default: 34431. */
  readonly port: number
  /** The interface the runner transport binds to. Default: `host`. */
  readonly listenHost: Option.Option<string>
  /** Shards per group; the same on every runner. Default: 300. */
  readonly shards: number
  /** How often each runner pings the others to find dead ones. Default: 1 second. */
  readonly healthCheckInterval: Duration.Duration
  /** How often shard assignments are re-read. Default: 1 second. */
  readonly refreshInterval: Duration.Duration
  /** How often unprocessed persisted messages are read. Default: 1 second. */
  readonly messagePollInterval: Duration.Duration
  /** How long a runner that stops refreshing keeps its shard locks; they are refreshed every third of it. Default: 10 seconds. */
  readonly lockExpiration: Duration.Duration
  /**
   * Whether a submission whose shard this runner holds is admitted straight into its own supervisor, no entity
   * message (`LocalAdmission`): about half a no-op task's runner CPU. Default: true; false sends every submission
   * through the task entity.
   */
  readonly directAdmission: boolean
  /**
   * Where an unkeyed task submitted on this runner goes (`Placement`, `LocalPlacement`). Unset: derived from
   * `directAdmission` (`placementOf`): `local`, here while a worker is free for it, which needs direct admission, or
   * `shard` without it, which spreads every one over every runner by its id. So `{ ...defaults, directAdmission: false }`
   * places by `shard`; `local` set explicitly without direct admission is refused (`invalid`).
   */
  readonly placement?: Placement | undefined
}

/**
 * The placement a runner takes when none is set, given whether it admits directly: `local` (no submission crosses
 * to another runner while a worker is free here, so a runner added adds throughput), or `shard` without direct
 * admission, which `local` needs.
 */
export const defaultPlacement = (directAdmission: boolean): Placement => directAdmission ? "local" : "shard"

/** The placement `settings` run with: the one set, else the default for their direct admission (`defaultPlacement`). */
export const placementOf = (settings: RunnerSettings): Placement =>
  settings.placement ?? defaultPlacement(settings.directAdmission)

/** The defaults of `RunnerSettings`; the placement is left unset, derived from `directAdmission` (`placementOf`). */
export const defaults: RunnerSettings = {
  host: "127.0.0.1",
  port: 34431,
  listenHost: Option.none(),
  shards: 300,
  healthCheckInterval: Duration.seconds(1),
  refreshInterval: Duration.seconds(1),
  messagePollInterval: Duration.seconds(1),
  lockExpiration: Duration.seconds(10),
  directAdmission: true
}

const Port = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))
const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/** The settings as a `Config`, read under the `CHAINJOBS_RUNNER_` names. */
export const config: Config.Config<RunnerSettings> = Config.all({
  host: Config.NonEmptyString("CHAINJOBS_RUNNER_HOST").pipe(Config.withDefault(defaults.host)),
  port: Config.schema(Port, "CHAINJOBS_RUNNER_PORT").pipe(Config.withDefault(defaults.port)),
  listenHost: Config.option(Config.NonEmptyString("CHAINJOBS_RUNNER_LISTEN_HOST")),
  shards: Config.schema(PositiveInt, "CHAINJOBS_RUNNER_SHARDS").pipe(Config.withDefault(defaults.shards)),
  healthCheckInterval: Config.Duration("CHAINJOBS_RUNNER_HEALTH_CHECK_INTERVAL").pipe(
    Config.withDefault(defaults.healthCheckInterval)
  ),
  refreshInterval: Config.Duration("CHAINJOBS_RUNNER_REFRESH_INTERVAL").pipe(Config.withDefault(defaults.refreshInterval)),
  messagePollInterval: Config.Duration("CHAINJOBS_RUNNER_MESSAGE_POLL_INTERVAL").pipe(
    Config.withDefault(defaults.messagePollInterval)
  ),
  lockExpiration: Config.Duration("CHAINJOBS_RUNNER_LOCK_EXPIRATION").pipe(Config.withDefault(defaults.lockExpiration)),
  directAdmission: Config.Boolean("CHAINJOBS_RUNNER_DIRECT_ADMISSION").pipe(Config.withDefault(defaults.directAdmission)),
  placement: Config.option(Config.schema(Placement, "CHAINJOBS_RUNNER_PLACEMENT"))
}).pipe(Config.mapEffect(({ placement, ...rest }) => {
  // unset: the default that runs with the direct admission read (`placementOf`), filled in for what reads the settings
  const settings: RunnerSettings = { ...rest, placement: placementOf({ ...rest, placement: Option.getOrUndefined(placement) }) }
  const refused = invalid(settings)
  return refused === undefined
    ? Effect.succeed(settings)
    : Effect.fail(new Config.ConfigError(new ConfigProvider.SourceError({ message: refused })))
}))

/**
 * Why `settings` cannot run together, if they cannot: local placement puts a task on a shard this runner guards, and
 * only direct admission keeps guards.
 */
export const invalid = (settings: RunnerSettings): string | undefined =>
  placementOf(settings) === "local" && !settings.directAdmission
    ? "CHAINJOBS_RUNNER_PLACEMENT=local needs CHAINJOBS_RUNNER_DIRECT_ADMISSION=true: a task is placed on a shard whose guard this runner keeps, and only direct admission keeps guards"
    : undefined

/** Runner settings given in code (`Runner.layer`) that cannot run together (`invalid`): the runner does not start. */
export class InvalidRunnerSettings extends Schema.TaggedError<InvalidRunnerSettings>("@chainjobs/cluster/InvalidRunnerSettings")(
  "InvalidRunnerSettings",
  {
    /** Why, naming the settings at fault. */
    reason: Schema.String
  }
) {
  override get message(): string {
    return `invalid runner settings: ${this.reason}`
  }
}

/** `settings` as they are, or `InvalidRunnerSettings` if they cannot run together (`invalid`). */
export const validate = (settings: RunnerSettings): Effect.Effect<RunnerSettings, InvalidRunnerSettings> => {
  const reason = invalid(settings)
  return reason === undefined ? Effect.succeed(settings) : Effect.fail(new InvalidRunnerSettings({ reason }))
}

/**
 * Runner mode as a `Config`: the runner settings when `CHAINJOBS_RUNNER` is
 * true, none (a single process) when it is false or unset.
 */
export const configOptional: Config.Config<Option.Option<RunnerSettings>> = Config.Boolean("CHAINJOBS_RUNNER").pipe(
  Config.withDefault(false),
  Config.flatMap((enabled) => (enabled ? Config.map(config, Option.some) : Config.succeed(Option.none())))
)

/** The runner settings as the cluster's `ShardingConfig` (every field the cluster would read from the environment). */
export const toShardingConfig = (settings: RunnerSettings): Partial<ShardingConfig.ShardingConfig["Service"]> => {
  const address = RunnerAddress.make(settings.host, settings.port)
  // refreshed three times per expiry; a refresh slower than this interval counts as lost locks
  const lockRefresh = Duration.divideUnsafe(settings.lockExpiration, 3)
  return {
    runnerAddress: Option.some(address),
    runnerListenAddress: Option.map(settings.listenHost, (host) => RunnerAddress.make(host, settings.port)),
    runnerShardWeight: 1,
    shardsPerGroup: settings.shards,
    availableShardGroups: ["default"],
    assignedShardGroups: ["default"],
    shardLockRefreshInterval: lockRefresh,
    shardLockExpiration: settings.lockExpiration,
    entityMessagePollInterval: settings.messagePollInterval,
    entityReplyPollInterval: Duration.millis(200),
    refreshAssignmentsInterval: settings.refreshInterval,
    runnerHealthCheckInterval: settings.healthCheckInterval,
    entityTerminationTimeout: Duration.seconds(15),
    maxResidentEntities: 100_000,
    // Runners here are one codebase: the serialization round trip for local entities only costs time.
    simulateRemoteSerialization: false
  }
}
