/**
 * The settings of the service, read from the environment (and from `serve`'s
 * flags, which take precedence) and validated at start: a bad value stops the
 * service before it binds anything, with a message naming the variable.
 *
 * | variable | flag | default |
 * | --- | --- | --- |
 * | `CHAINJOBS_HOST` | `--host` | `127.0.0.1` |
 * | `CHAINJOBS_PORT` | `--port` | `8080` |
 * | `CHAINJOBS_DATA_DIR` | `--data-dir` | `./data` (SQLite file `chainjobs.db`); `:memory:` keeps tasks in memory |
 * | `CHAINJOBS_DATABASE_URL` | `--database-url` | none: PostgreSQL instead of SQLite |
 * | `CHAINJOBS_PG_INSERTS` | `--pg-inserts` | `adaptive`: how PostgreSQL inserts new records (`adaptive`, `plain`, `checked`; see `SqlTaskStore.SqlTaskStoreConfig.pgInserts`); refused when set without `CHAINJOBS_DATABASE_URL` (SQLite) |
 * | `CHAINJOBS_CHAINS` | `--chains` | none: a JSON array of chains (see `ChainSetting`) |
 * | `CHAINJOBS_SUI_NETWORKS` | `--sui-networks` | none: a JSON array of Sui networks (see `SuiNetworkSetting`) for watchers and balances |
 * | `CHAINJOBS_CHAIN_KINDS` | `--chain-kinds` | none: JSON settings of chain kinds over their policies (see `ChainTasks.KindsSettings`) |
 * | `CHAINJOBS_DEV_CHAIN` | `--dev-chain` | `true`: with no chains configured, start a local Hardhat chain |
 * | `CHAINJOBS_AUTH_TOKENS` | `--auth-tokens` | none: `principal=token,...`; none turns auth off |
 * | `CHAINJOBS_ADMINS` | `--admins` | none: principals (`a,b`) that see every task and may purge |
 * | `CHAINJOBS_MAX_WORKERS` | `--max-workers` | `100` |
 * | `CHAINJOBS_SUBMIT_LIMIT` | `--submit-limit` | `1000` submissions per principal per second |
 * | `CHAINJOBS_SUBMIT_BURST` | `--submit-burst` | twice the submit limit: submissions a principal may make at once |
 * | `CHAINJOBS_MAX_PAYLOAD_BYTES` | `--max-payload-bytes` | `65536`: largest task payload (and REST body), in bytes |
 * | `CHAINJOBS_MAX_PAYLOAD_DEPTH` | `--max-payload-depth` | `32`: deepest nesting of a payload's arrays and objects |
 * | `CHAINJOBS_METRICS_TOKEN` | `--metrics-token` | none: with auth on, `/metrics` needs this bearer token or an admin's |
 * | `CHAINJOBS_HEADERS_TIMEOUT` | `--headers-timeout` | `10 seconds` for a client to send a request's headers |
 * | `CHAINJOBS_REQUEST_TIMEOUT` | `--request-timeout` | `30 seconds` for a client to send a whole request, body included |
 * | `CHAINJOBS_SHUTDOWN_GRACE` | `--shutdown-grace` | `30 seconds` |
 * | `CHAINJOBS_EVENT_BUFFER` | `--event-buffer` | `1024` changes an all-tasks subscriber may lag before it is dropped |
 * | `CHAINJOBS_EVENT_REPLAY` | `--event-replay` | `8192` changes kept for `/api/events` to resume from |
 * | `CHAINJOBS_MAX_EVENT_STREAMS` | `--max-event-streams` | `1000` all-tasks streams (`/api/events`, RPC `WatchAll`, `WatchChanges`) one principal may hold open at once; past it 429 / `TooManyEventStreams` |
 * | `CHAINJOBS_MAX_TASK_STREAMS` | `--max-task-streams` | `4096` single-task streams (RPC `Watch`, `/api/tasks/{id}/events`) one principal may hold open at once; past it 429 / `TooManyTaskStreams` |
 * | `CHAINJOBS_MAX_STREAMS_PER_CONNECTION` | `--max-streams-per-connection` | `1000` streaming RPC calls (`Watch`, `WatchAll`, `WatchChanges`) one connection may hold open at once; past it the call fails with `TooManyStreams` |
 * | `CHAINJOBS_MAX_OPEN_CONNECTIONS` | `--max-open-connections` | `10000` connections the HTTP server holds open at once; past it a new connection is closed as it is accepted |
 * | `CHAINJOBS_WATCHERS` | `--watchers` | none: a JSON array of watchers (`Watchers.WatcherSpec`) declared at start |
 * | `CHAINJOBS_SCHEDULES` | `--schedules` | none: a JSON array of schedules and daemons (`ScheduleSettings`) declared and stored at start |
 * | `CHAINJOBS_WATCH_POLL_INTERVAL` | `--watch-poll-interval` | `1 second`: how often a watcher reads the head |
 * | `CHAINJOBS_BALANCE_REFRESH_EVERY` | `--balance-refresh-every` | `5 minutes`: stale cached balances read again |
 * | `CHAINJOBS_BALANCE_RECONCILE_EVERY` | `--balance-reconcile-every` | `1 hour`: every cached balance checked against the chain |
 * | `CHAINJOBS_LOG_LEVEL` | `--log-level` | `info`: the least severe log lines written (`all`, `trace`, `debug`, `info`, `warn`, `error`, `fatal`, `none`; any case) |
 * | `CHAINJOBS_WEBHOOK_SECRET` | `--webhook-secret` | none: the key webhooks are signed with; without it submissions naming a webhook are refused |
 * | `CHAINJOBS_WEBHOOK_ALLOW_HOSTS` | `--webhook-allow-hosts` | none: private hosts (`127.0.0.1`, `host:port`) webhooks may call anyway |
 * | `CHAINJOBS_WEBHOOK_MAX_ATTEMPTS` | `--webhook-max-attempts` | `10` attempts before a delivery fails for good |
 * | `CHAINJOBS_WEBHOOK_RETRY_BASE` | `--webhook-retry-base` | `1 second` after the first failed attempt, doubling up to 10 minutes |
 * | `CHAINJOBS_HEARTBEAT_CHECK_INTERVAL` | | `10 seconds` |
 * | `CHAINJOBS_RETENTION_SWEEP_INTERVAL` | | `1 minute` |
 * | `CHAINJOBS_RUNNER` | `--runner` | `false`: one runner of a cluster on `CHAINJOBS_DATABASE_URL` (required then) |
 * | `CHAINJOBS_RUNNER_HOST` | `--runner-host` | `127.0.0.1`: where the other runners reach this one |
 * | `CHAINJOBS_RUNNER_PORT` | `--runner-port` | `34431`: the runner transport's TCP port |
 * | `CHAINJOBS_RUNNER_LISTEN_HOST` | | the runner host: the interface the transport binds |
 * | `CHAINJOBS_RUNNER_SHARDS` | | `300`, the same on every runner |
 * | `CHAINJOBS_RUNNER_HEALTH_CHECK_INTERVAL`, `_REFRESH_INTERVAL`, `_MESSAGE_POLL_INTERVAL` | | `1 second` each |
 * | `CHAINJOBS_RUNNER_LOCK_EXPIRATION` | | `10 seconds` |
 * | `CHAINJOBS_RUNNER_DIRECT_ADMISSION` | | `true`: a submission whose shard this runner holds goes straight into its supervisor; `false` sends every one through the task entity |
 * | `CHAINJOBS_RUNNER_PLACEMENT` | `--runner-placement` | `local` (default; `shard` when `CHAINJOBS_RUNNER_DIRECT_ADMISSION=false`): an unkeyed task submitted here stays on this runner's shards while it has a worker free (needs direct admission); `shard`: unkeyed tasks spread over every runner by their id |
 *
 * The supervisor's settings (workers, grace period, watchdog and sweep
 * periods) are `TasksConfig`'s, read by its own `config` under these names.
 *
 * @since 0.1.0
 */
import { ChainTasks } from "@chainjobs/chain"
import { RunnerConfig } from "@chainjobs/cluster"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { TasksConfig } from "@chainjobs/tasks"
import { Watchers } from "@chainjobs/watch"
import * as ScheduleSettings from "./ScheduleSettings.ts"
import * as Webhooks from "./Webhooks.ts"
import { Config, ConfigProvider, Context, Duration, Effect, Layer, LogLevel, Option, Redacted, Schema, SchemaTransformation } from "effect"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/** One endpoint of a configured chain: its URL, connection pool and request budget. */
export const EndpointSetting = Schema.Struct({
  url: Schema.String,
  /** Connections kept open at most. Default: 8. */
  maxConnections: Schema.optionalKey(PositiveInt),
  /** At most `limit` requests per `windowMillis` milliseconds. Default: no limit. */
  rateLimit: Schema.optionalKey(Schema.Struct({
    limit: PositiveInt,
    windowMillis: PositiveInt
  })),
  /** Headers sent with every request, e.g. a provider's API key: `{"x-api-key":"…"}`. Default: none. */
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})

/** A configured chain: `{"name":"mainnet","chainId":1,"endpoints":[{"url":"https://…"}]}`; endpoints in order of preference. */
export const ChainSetting = Schema.Struct({
  name: Schema.NonEmptyString,
  chainId: Schema.Int,
  endpoints: Schema.NonEmptyArray(EndpointSetting),
  /** Time limit of one request to one endpoint, in milliseconds. Default: 10 000. */
  requestTimeoutMillis: Schema.optionalKey(PositiveInt),
  /** How long the chain head is cached, in milliseconds (0: not cached). Default: 10 000. */
  headTtlMillis: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /** Each endpoint's circuit breaker: consecutive transient failures that open it, and for how long. Default: 5, 5 000. */
  breaker: Schema.optionalKey(Schema.Struct({
    failures: Schema.optionalKey(PositiveInt),
    openDurationMillis: Schema.optionalKey(PositiveInt)
  }))
})
/** @see ChainSetting */
export type ChainSetting = typeof ChainSetting.Type

/**
 * A configured Sui network, for watchers and the balance cache:
 * `{"name":"sui-mainnet","endpoints":[{"url":"https://fullnode.mainnet.sui.io"}]}`;
 * endpoints in order of preference. Its name must differ from every chain's.
 */
export const SuiNetworkSetting = Schema.Struct({
  name: Schema.NonEmptyString,
  endpoints: Schema.NonEmptyArray(EndpointSetting),
  /** Time limit of one request to one endpoint, in milliseconds. Default: 10 000. */
  requestTimeoutMillis: Schema.optionalKey(PositiveInt),
  /** Each endpoint's circuit breaker: consecutive transient failures that open it, and for how long. Default: 5, 5 000. */
  breaker: Schema.optionalKey(Schema.Struct({
    failures: Schema.optionalKey(PositiveInt),
    openDurationMillis: Schema.optionalKey(PositiveInt)
  }))
})
/** @see SuiNetworkSetting */
export type SuiNetworkSetting = typeof SuiNetworkSetting.Type

/** An endpoint setting as the options of a `ChainConfig` endpoint (pool size, request budget, headers). */
export const endpointOptions = (endpoint: typeof EndpointSetting.Type) => ({
  url: endpoint.url,
  ...(endpoint.maxConnections === undefined ? {} : { maxConnections: endpoint.maxConnections }),
  ...(endpoint.rateLimit === undefined
    ? {}
    : { rateLimit: { limit: endpoint.rateLimit.limit, window: Duration.millis(endpoint.rateLimit.windowMillis) } }),
  ...(endpoint.headers === undefined ? {} : { headers: endpoint.headers })
})

/** A chain's or Sui network's request timeout and breaker settings as `ChainConfig` options. */
export const limitOptions = (setting: Pick<ChainSetting, "requestTimeoutMillis" | "breaker">) => ({
  ...(setting.requestTimeoutMillis === undefined ? {} : { requestTimeout: Duration.millis(setting.requestTimeoutMillis) }),
  breaker: {
    ...(setting.breaker?.failures === undefined ? {} : { failures: setting.breaker.failures }),
    ...(setting.breaker?.openDurationMillis === undefined ? {} : { openDuration: Duration.millis(setting.breaker.openDurationMillis) })
  }
})

/** A log level as a setting: one of Effect's levels in any case (`info`, `Info`, `INFO`); another name is refused. */
export const LogLevelSetting = Schema.String.pipe(
  Schema.decodeTo(
    Schema.Literals(LogLevel.values),
    SchemaTransformation.transform({
      // a name that is no level passes unchanged, and the literals refuse it, listing the levels
      decode: (name: string) => LogLevel.values.find((level) => level.toLowerCase() === name.toLowerCase()) ?? (name as LogLevel.LogLevel),
      encode: (level) => level.toLowerCase()
    })
  )
)

/** The settings of the service. */
export interface ServerSettings {
  /** Interface the HTTP server binds to. Default: `127.0.0.1`. */
  readonly host: string
  /** TCP port of the HTTP server; `0` picks a free one. Default: `8080`. */
  readonly port: number
  /** Directory of the SQLite database file; `:memory:` keeps tasks in memory. Default: `./data`. */
  readonly dataDir: string
  /** PostgreSQL connection URL; when set, tasks are stored there instead of SQLite. */
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  /**
   * How the PostgreSQL store inserts new records: `plain` first, always `checked` (`ON CONFLICT DO NOTHING`), or
   * `adaptive` (plain while few recent batches met an existing id). Default: `adaptive`.
   */
  readonly pgInserts: SqlTaskStore.InsertMode
  /** The chains task kinds may use. Default: none. */
  readonly chains: ReadonlyArray<ChainSetting>
  /** Sui networks the watchers and the balance cache may use (beside the chains). Default: none. */
  readonly suiNetworks: ReadonlyArray<SuiNetworkSetting>
  /**
   * Timeouts, heartbeat timeouts, concurrency, retries and conflict choice of chain kinds, by kind name, over the
   * kinds' own (`{"chain/sync-events":{"timeoutMillis":1800000}}`). Default: none, the kinds' own.
   */
  readonly chainKinds: ChainTasks.KindsSettings
  /** With no chains configured, start a local Hardhat chain named `dev`, with live activity. Default: true. */
  readonly devChain: boolean
  /** Bearer tokens by principal. Empty: auth is off and every caller is `anonymous`. */
  readonly authTokens: Readonly<Record<string, Redacted.Redacted<string>>>
  /** Principals that see and control every task and may purge. Default: none. */
  readonly admins: ReadonlyArray<string>
  /** The supervisor's settings: workers running at once, shutdown grace, watchdog and sweep periods. */
  readonly tasks: TasksConfig.TasksConfig["Service"]
  /**
   * Runner mode: this process is one runner of a cluster sharing `databaseUrl`
   * (`@chainjobs/cluster`). Default: none, a single process.
   */
  readonly runner: Option.Option<RunnerConfig.RunnerSettings>
  /** Submissions a principal may make per second, over REST and RPC together (a token bucket). Default: 1000. */
  readonly submitLimit: number
  /** Submissions a principal may make at once (the size of its token bucket). Default: none, twice `submitLimit`. */
  readonly submitBurst: Option.Option<number>
  /** The largest task payload accepted on every surface (and the largest REST body), in bytes of JSON. Default: 65536. */
  readonly maxPayloadBytes: number
  /** The deepest nesting of arrays and objects accepted in a payload, on every surface. Default: 32. */
  readonly maxPayloadDepth: number
  /** With auth on, a bearer token that may read `/metrics` (an admin's token may too). Default: none. */
  readonly metricsToken: Option.Option<Redacted.Redacted<string>>
  /** How long a client may take to send a request's headers before its connection is closed (408). Default: 10 seconds. */
  readonly headersTimeout: Duration.Duration
  /** How long a client may take to send a whole request, body included, before it is cut (408). Default: 30 seconds. */
  readonly requestTimeout: Duration.Duration
  /** Changes an all-tasks event subscriber may fall behind before it is dropped (it resumes by event id). Default: 1024. */
  readonly eventBuffer: number
  /** Changes kept for all-tasks event streams to resume from by `Last-Event-ID`. Default: 8192. */
  readonly eventReplay: number
  /**
   * All-tasks event streams (`/api/events`, RPC `WatchAll` and `WatchChanges` together) one principal may hold open
   * at once: each is a subscriber every change visits; the one past it is refused (429 `TooManyEventStreams`).
   * Default: 1000.
   */
  readonly maxEventStreams: number
  /**
   * Single-task streams (RPC `Watch`, `/api/tasks/{id}/events` together) one principal may hold open at once: each
   * holds a subscriber of its task and a buffer; the one past it is refused (429 `TooManyTaskStreams`). Default: 4096.
   */
  readonly maxTaskStreams: number
  /**
   * Streaming RPC calls (`Watch`, `WatchAll`, `WatchChanges`) one connection (a WebSocket, or one HTTP request's
   * batch) may hold open at once; the call past it fails alone with `TooManyStreams`. Default: 1000.
   */
  readonly maxStreamsPerConnection: number
  /**
   * Connections the HTTP server holds open at once, on every listening socket together; a connection accepted past
   * it is closed at once, and those open are not touched (`ConnectionCap`). Default: 10000.
   */
  readonly maxOpenConnections: number
  /** Watchers declared at start, added when missing (they run on the chains; see `WatchService`). Default: none. */
  readonly watchers: ReadonlyArray<Watchers.WatcherSpec>
  /** How often a watcher reads the chain head. Default: 1 second. */
  readonly watchPollInterval: Duration.Duration
  /** Schedules and daemons declared (and stored) at start, once the kinds are registered (see `ScheduleSettings`). Default: none. */
  readonly schedules: ReadonlyArray<ScheduleSettings.ScheduleSetting>
  /** How often stale cached balances are read from the chain. Default: 5 minutes. */
  readonly balanceRefreshEvery: Duration.Duration
  /** How often every cached balance is checked against the chain. Default: 1 hour. */
  readonly balanceReconcileEvery: Duration.Duration
  /** The least severe log lines written; less severe ones are dropped. Default: `Info`. */
  readonly logLevel: LogLevel.LogLevel
  /** Webhooks: the signing secret, the private hosts allowed, the retries (see `Webhooks`). Default: no secret, no webhooks. */
  readonly webhooks: Webhooks.WebhookSettings
}

/** The defaults of every setting. */
export const defaults: ServerSettings = {
  host: "127.0.0.1",
  port: 8080,
  dataDir: "./data",
  databaseUrl: Option.none(),
  pgInserts: "adaptive",
  chains: [],
  suiNetworks: [],
  chainKinds: {},
  devChain: true,
  authTokens: {},
  admins: [],
  tasks: TasksConfig.defaults,
  runner: Option.none(),
  submitLimit: 1000,
  submitBurst: Option.none(),
  maxPayloadBytes: 64 * 1024,
  maxPayloadDepth: 32,
  metricsToken: Option.none(),
  headersTimeout: Duration.seconds(10),
  requestTimeout: Duration.seconds(30),
  eventBuffer: 1024,
  eventReplay: 8192,
  maxEventStreams: 1000,
  maxTaskStreams: 4096,
  maxStreamsPerConnection: 1000,
  maxOpenConnections: 10_000,
  watchers: [],
  watchPollInterval: Duration.seconds(1),
  schedules: [],
  balanceRefreshEvery: Duration.minutes(5),
  balanceReconcileEvery: Duration.hours(1),
  logLevel: "Info",
  webhooks: Webhooks.defaults
}

/** A setting has a value the service cannot use. */
export class ServerConfigError extends Schema.TaggedError<ServerConfigError>()("ServerConfigError", {
  message: Schema.String
}) {}

/** The service's settings. */
export class ServerConfig extends Context.Service<ServerConfig, ServerSettings>()("@chainjobs/server/ServerConfig") {}

const Port = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))

/** The settings as a `Config`, read under the `CHAINJOBS_` names. */
export const config: Config.Config<ServerSettings> = Config.all({
  host: Config.String("CHAINJOBS_HOST").pipe(Config.withDefault(defaults.host)),
  port: Config.schema(Port, "CHAINJOBS_PORT").pipe(Config.withDefault(defaults.port)),
  dataDir: Config.NonEmptyString("CHAINJOBS_DATA_DIR").pipe(Config.withDefault(defaults.dataDir)),
  databaseUrl: Config.option(
    Config.URL("CHAINJOBS_DATABASE_URL").pipe(Config.map((url) => Redacted.make(url.toString())))
  ),
  // unset told apart from set: a store that is not PostgreSQL refuses it being set (`storeMismatch`)
  pgInserts: Config.option(Config.schema(SqlTaskStore.PgInserts, "CHAINJOBS_PG_INSERTS")),
  chains: Config.schema(Schema.fromJsonString(Schema.Array(ChainSetting)), "CHAINJOBS_CHAINS").pipe(
    Config.withDefault([])
  ),
  suiNetworks: Config.schema(Schema.fromJsonString(Schema.Array(SuiNetworkSetting)), "CHAINJOBS_SUI_NETWORKS").pipe(
    Config.withDefault([])
  ),
  chainKinds: Config.schema(Schema.fromJsonString(ChainTasks.KindsSettings), "CHAINJOBS_CHAIN_KINDS").pipe(
    Config.withDefault({})
  ),
  devChain: Config.Boolean("CHAINJOBS_DEV_CHAIN").pipe(Config.withDefault(true)),
  authTokens: Config.Record(Schema.String, Schema.NonEmptyString, "CHAINJOBS_AUTH_TOKENS").pipe(
    Config.withDefault({})
  ),
  admins: Config.Array(Schema.NonEmptyString, "CHAINJOBS_ADMINS").pipe(Config.withDefault([])),
  tasks: TasksConfig.config,
  runner: RunnerConfig.configOptional,
  submitLimit: Config.schema(PositiveInt, "CHAINJOBS_SUBMIT_LIMIT").pipe(Config.withDefault(defaults.submitLimit)),
  submitBurst: Config.option(Config.schema(PositiveInt, "CHAINJOBS_SUBMIT_BURST")),
  maxPayloadBytes: Config.schema(PositiveInt, "CHAINJOBS_MAX_PAYLOAD_BYTES").pipe(Config.withDefault(defaults.maxPayloadBytes)),
  maxPayloadDepth: Config.schema(PositiveInt, "CHAINJOBS_MAX_PAYLOAD_DEPTH").pipe(Config.withDefault(defaults.maxPayloadDepth)),
  metricsToken: Config.option(Config.NonEmptyString("CHAINJOBS_METRICS_TOKEN").pipe(Config.map((token) => Redacted.make(token)))),
  headersTimeout: Config.Duration("CHAINJOBS_HEADERS_TIMEOUT").pipe(Config.withDefault(defaults.headersTimeout)),
  requestTimeout: Config.Duration("CHAINJOBS_REQUEST_TIMEOUT").pipe(Config.withDefault(defaults.requestTimeout)),
  eventBuffer: Config.schema(PositiveInt, "CHAINJOBS_EVENT_BUFFER").pipe(Config.withDefault(defaults.eventBuffer)),
  maxEventStreams: Config.schema(PositiveInt, "CHAINJOBS_MAX_EVENT_STREAMS").pipe(Config.withDefault(defaults.maxEventStreams)),
  maxTaskStreams: Config.schema(PositiveInt, "CHAINJOBS_MAX_TASK_STREAMS").pipe(Config.withDefault(defaults.maxTaskStreams)),
  maxStreamsPerConnection: Config.schema(PositiveInt, "CHAINJOBS_MAX_STREAMS_PER_CONNECTION").pipe(
    Config.withDefault(defaults.maxStreamsPerConnection)
  ),
  maxOpenConnections: Config.schema(PositiveInt, "CHAINJOBS_MAX_OPEN_CONNECTIONS").pipe(
    Config.withDefault(defaults.maxOpenConnections)
  ),
  eventReplay: Config.schema(PositiveInt, "CHAINJOBS_EVENT_REPLAY").pipe(Config.withDefault(defaults.eventReplay)),
  watchers: Config.schema(Schema.fromJsonString(Schema.Array(Watchers.WatcherSpec)), "CHAINJOBS_WATCHERS").pipe(
    Config.withDefault([])
  ),
  watchPollInterval: Config.Duration("CHAINJOBS_WATCH_POLL_INTERVAL").pipe(Config.withDefault(defaults.watchPollInterval)),
  schedules: Config.schema(ScheduleSettings.ScheduleSettings, ScheduleSettings.variable).pipe(Config.withDefault([])),
  balanceRefreshEvery: Config.Duration("CHAINJOBS_BALANCE_REFRESH_EVERY").pipe(Config.withDefault(defaults.balanceRefreshEvery)),
  balanceReconcileEvery: Config.Duration("CHAINJOBS_BALANCE_RECONCILE_EVERY").pipe(
    Config.withDefault(defaults.balanceReconcileEvery)
  ),
  logLevel: Config.schema(LogLevelSetting, "CHAINJOBS_LOG_LEVEL").pipe(Config.withDefault(defaults.logLevel)),
  webhooks: Config.all({
    secret: Config.option(Config.NonEmptyString("CHAINJOBS_WEBHOOK_SECRET").pipe(Config.map((secret) => Redacted.make(secret)))),
    allowHosts: Config.Array(Schema.NonEmptyString, "CHAINJOBS_WEBHOOK_ALLOW_HOSTS").pipe(Config.withDefault([])),
    maxAttempts: Config.schema(PositiveInt, "CHAINJOBS_WEBHOOK_MAX_ATTEMPTS").pipe(
      Config.withDefault(Webhooks.defaults.maxAttempts)
    ),
    retryBase: Config.Duration("CHAINJOBS_WEBHOOK_RETRY_BASE").pipe(Config.withDefault(Webhooks.defaults.retryBase)),
    retryMax: Config.succeed(Webhooks.defaults.retryMax),
    requestTimeout: Config.succeed(Webhooks.defaults.requestTimeout)
  })
}).pipe(Config.mapEffect(({ pgInserts, ...settings }) => {
  const mismatch = storeMismatch(pgInserts, settings.databaseUrl)
  return mismatch === undefined
    ? Effect.succeed({
      ...settings,
      pgInserts: Option.getOrElse(pgInserts, () => defaults.pgInserts),
      authTokens: Object.fromEntries(Object.entries(settings.authTokens).map(([name, token]) => [name, Redacted.make(token)]))
    })
    : Effect.fail(new Config.ConfigError(new ConfigProvider.SourceError({ message: mismatch })))
}))

/**
 * Why the PostgreSQL insert mode cannot be set here, if it cannot: it is a setting of the PostgreSQL store alone, and
 * without `CHAINJOBS_DATABASE_URL` tasks are stored in SQLite, where it would be silently ignored.
 */
const storeMismatch = (
  pgInserts: Option.Option<SqlTaskStore.InsertMode>,
  databaseUrl: Option.Option<Redacted.Redacted<string>>
): string | undefined =>
  Option.isSome(pgInserts) && Option.isNone(databaseUrl)
    ? `CHAINJOBS_PG_INSERTS (--pg-inserts) is a setting of the PostgreSQL store, and this service stores its tasks in SQLite (CHAINJOBS_DATABASE_URL is not set): set CHAINJOBS_DATABASE_URL, or leave CHAINJOBS_PG_INSERTS unset`
    : undefined

/** Why the settings' chain and Sui network names clash, if they do: each name must name one thing. */
const nameClash = (settings: ServerSettings): string | undefined => {
  const chains = settings.chains.length > 0 ? settings.chains.map((chain) => chain.name) : settings.devChain ? ["dev"] : []
  const seen = new Set<string>()
  for (const name of [...chains, ...settings.suiNetworks.map((network) => network.name)]) {
    if (seen.has(name)) return `invalid configuration: CHAINJOBS_SUI_NETWORKS: "${name}" names a chain or another Sui network already`
    seen.add(name)
  }
  return undefined
}

/** Reads and validates the settings from the current `ConfigProvider`, failing with one clear message. */
export const load: Effect.Effect<ServerSettings, ServerConfigError> = Effect.mapError(
  config,
  (error) => new ServerConfigError({ message: `invalid configuration: ${error.message}` })
).pipe(Effect.flatMap((settings) =>
  Option.isSome(settings.runner) && Option.isNone(settings.databaseUrl)
    ? Effect.fail(
      new ServerConfigError({
        message: "invalid configuration: CHAINJOBS_RUNNER needs CHAINJOBS_DATABASE_URL (the runners share one PostgreSQL database)"
      })
    )
    : nameClash(settings) !== undefined
    ? Effect.fail(new ServerConfigError({ message: nameClash(settings)! }))
    : ScheduleSettings.invalid(settings.schedules) !== undefined
    ? Effect.fail(new ServerConfigError({ message: `invalid configuration: ${ScheduleSettings.invalid(settings.schedules)}` }))
    : Effect.succeed(settings)
))

/** The settings from the current `ConfigProvider` (the environment by default). */
export const layer: Layer.Layer<ServerConfig, ServerConfigError> = Layer.effect(ServerConfig, load)

/**
 * The settings from `overrides` (keyed by variable name, as flags give them),
 * falling back to the current `ConfigProvider`.
 */
export const layerWith = (overrides: Readonly<Record<string, string>>): Layer.Layer<ServerConfig, ServerConfigError> =>
  Layer.effect(
    ServerConfig,
    Effect.flatMap(ConfigProvider.ConfigProvider, (fallback) =>
      Effect.provideService(
        load,
        ConfigProvider.ConfigProvider,
        ConfigProvider.orElse(ConfigProvider.fromUnknown(overrides), fallback)
      ))
  )

/** Fixed settings over the defaults, for tests and embedding. */
export const layerTest = (settings: Partial<ServerSettings> = {}): Layer.Layer<ServerConfig> =>
  Layer.succeed(ServerConfig, { ...defaults, ...settings })
