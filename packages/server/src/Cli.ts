/**
 * The `chainjobs` command line:
 *
 * ```
 * chainjobs serve [--port 8080] [--data-dir ./data] ...   run the service
 * chainjobs submit <kind> --payload '{...}' [--watch]    submit a task (and follow it); --webhook <url>; --timeout-millis,
 *                                                        --heartbeat-timeout-millis, --retries override the kind's
 * chainjobs status <id> | result <id> | watch <id>        read or follow a task
 * chainjobs list [--status s] [--kind k] [--cursor c]     list tasks, newest first
 * chainjobs interrupt <id> | delete <id> | retry <id>     control a task
 * chainjobs kinds | purge                                 the registered kinds; delete finished tasks
 * chainjobs chains | chain check <chain>                 the service's chains: endpoint pools, a connection check
 * chainjobs sui check --endpoint <url> | --network <n>   check a Sui full node from here, or a network of the service
 * chainjobs schedules list | set <name> ... | remove <name>   stored schedules and daemons (admins only)
 * ```
 *
 * `status`, `result`, `list` and `kinds` take `--json` for scripts.
 * `chainjobs --completions bash` (or zsh, fish) prints a shell completion
 * script, e.g. `source <(chainjobs --completions bash)`.
 *
 * Ctrl-C while a command follows a task (`submit --watch`, `watch`) leaves the
 * task running: the command says so, names `chainjobs interrupt <id>`, and
 * exits 130. A server that cannot be reached is named with the cause.
 *
 * `serve` runs the service in this process, with the process's memory
 * policy: V8's old generation held to twice the live heap (`HeapGrowth`)
 * and a memory-reducing collection once the service goes quiet
 * (`IdleMemory`). Every other command talks to a
 * running server over `@chainjobs/rpc` (HTTP, ndjson framing) at `--url`
 * (`CHAINJOBS_URL`, default `http://127.0.0.1:8080`) with the bearer token
 * `--token` (`CHAINJOBS_TOKEN`), each request within `--timeout` seconds
 * (`CHAINJOBS_TIMEOUT`, default 30; a stream's each next answer likewise) and
 * an answer at most 16 MiB (`CliRequests`). A flag's value out of its range
 * prints what is allowed and exits 2 (`MainExit`). `submit --watch` draws a progress bar and
 * exits with the task's outcome: 0 when it completed, 1 otherwise.
 *
 * @since 0.1.0
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Clock, Config, Console, Context, Effect, Layer, Logger, Option, Schema, Stream } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { Argument, Command, Flag } from "effect/cli"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { Auth, type TaskRpcClient, TaskRpcs } from "@chainjobs/rpc"
import { TaskInfo, TaskQuery } from "@chainjobs/tasks"
import * as ChainCli from "./ChainCli.ts"
import * as CliRequests from "./CliRequests.ts"
import * as HeapGrowth from "./HeapGrowth.ts"
import * as IdleMemory from "./IdleMemory.ts"
import * as JsonLog from "./JsonLog.ts"
import * as ScheduleCli from "./ScheduleCli.ts"
import * as Server from "./Server.ts"
import * as ServerConfig from "./ServerConfig.ts"
import * as SuiCli from "./SuiCli.ts"
import * as Telemetry from "./Telemetry.ts"
import * as WatchCli from "./WatchCli.ts"

/** A command could not do what it was asked; `message` says why. */
export class CliError extends Schema.TaggedError<CliError>()("CliError", { message: Schema.String }) {}

/** The RPC client of the server the command talks to. */
export class Remote extends Context.Service<Remote, TaskRpcClient.RawClient>()("@chainjobs/server/Cli/Remote") {}

/**
 * The RPC client over HTTP at `<url>/rpc`, sending `token` with every call; each call bounded as `CliRequests` says,
 * within `seconds` (an answer's line at most `CliRequests.maxAnswerBytes`).
 */
export const layerRemote = (url: string, token: string, seconds: number = CliRequests.defaultTimeoutSeconds): Layer.Layer<Remote> =>
  Layer.effect(Remote, Effect.map(RpcClient.make(TaskRpcs.TaskRpcs), (client) => CliRequests.limitClient({ url, seconds }, client))).pipe(
    Layer.provide(Auth.layerClient(token)),
    Layer.provide(RpcClient.layerProtocolHttp({
      url: `${url.replace(/\/$/, "")}/rpc`,
      transformClient: CliRequests.limitLines({ url, seconds })
    })),
    Layer.provide([NodeHttpClient.layerUndici, RpcSerialization.layerNdjson])
  )

/** A whole number flag's value checked against its range: out of it, the command line says what is allowed (exit 2). */
const within = (name: string, minimum: number, maximum: number = Number.MAX_SAFE_INTEGER) =>
  Flag.filter(
    (value: number) => value >= minimum && value <= maximum,
    (value) =>
      `--${name} must be ${maximum === Number.MAX_SAFE_INTEGER ? `at least ${minimum}` : `from ${minimum} to ${maximum}`}, not ${value}`
  )

const root = Command.make("chainjobs").pipe(
  Command.withSharedFlags({
    url: Flag.String("url").pipe(
      Flag.withDescription("The server to talk to"),
      Flag.withFallbackConfig(Config.String("CHAINJOBS_URL")),
      Flag.withDefault("http://127.0.0.1:8080")
    ),
    token: Flag.String("token").pipe(
      Flag.withDescription("Bearer token of the calling principal (not needed while the server's auth is off)"),
      Flag.withFallbackConfig(Config.String("CHAINJOBS_TOKEN")),
      Flag.withDefault("")
    ),
    timeout: Flag.Int("timeout").pipe(
      Flag.withDescription(
        `Seconds to wait for the server's answer, or a stream's next one (default ${CliRequests.defaultTimeoutSeconds})`
      ),
      Flag.withFallbackConfig(Config.Int("CHAINJOBS_TIMEOUT")),
      Flag.withDefault(CliRequests.defaultTimeoutSeconds),
      within("timeout", 1, 86_400)
    )
  }),
  Command.withDescription("Supervised, observable, interruptible blockchain tasks")
)

/**
 * The innermost cause of a transport failure, e.g. `connect ECONNREFUSED 127.0.0.1:9`: its message, else its tag,
 * else the value as text. Follows `cause`, or an object `reason` (an `RpcClientError`'s), at most 16 steps, and stops
 * at a cycle of one, a `null` cause, or an object cause with no message that is no `Error` — data, not a failure:
 * the request Effect's RPC client names as the cause of "HTTP response ended before RPC request completed" (a server
 * that answered something other than the call's reply), whose `_tag` `Request` was told instead.
 */
export const rootCause = (error: unknown): string => {
  let current: any = error
  for (let depth = 0; depth < 16; depth++) {
    const next = current?.cause ?? (typeof current?.reason === "object" ? current.reason : undefined)
    if (next === undefined || next === null || next === current) break
    if (typeof next === "object" && !(next instanceof Error) && typeof next.message !== "string") break
    current = next
  }
  return String(current?.message || current?._tag || current)
}

/** A failure to reach the server, as a `CliError` naming its URL and the cause; a bound broken, as the bound's error. */
const unreachable = (url: string) => (error: unknown) =>
  CliRequests.boundOf(error) ?? new CliError({ message: `cannot reach the server at ${url}: ${rootCause(error)}` })

/**
 * Runs `f` with the client of the server the shared flags name, its calls bounded (`CliRequests`); a server out of
 * reach fails naming its URL, one that broke a bound with the bound's error.
 */
const remote = <A, E, R>(f: (client: TaskRpcClient.RawClient) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(root, ({ timeout, token, url }) =>
    Effect.provide(Remote.use(f), layerRemote(url, token, timeout)).pipe(
      Effect.catchIf(
        (error): error is Extract<E, { readonly _tag: "RpcClientError" }> =>
          typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "RpcClientError",
        (error) => Effect.fail(unreachable(url)(error))
      )
    ))

/** An epoch-millisecond time as ISO 8601, or `-` when not set. */
export const isoTime = (millis: number | null): string => millis === null ? "-" : new Date(millis).toISOString()

/** How far a task got: percent, or `done of total` from its progress detail when percent would read 0. */
const progressText = (info: TaskInfo.TaskInfo): string => {
  const detail = info.detail as { readonly done?: unknown; readonly total?: unknown } | null
  if (info.progress < 1 && typeof detail?.done === "number" && typeof detail.total === "number") {
    return `${detail.done}/${detail.total}`
  }
  return `${Math.round(info.progress)}%`
}

/** One line describing a task: id, kind, status, progress, creation time, message. */
export const describe = (info: TaskInfo.TaskInfo): string =>
  [
    info.id,
    info.kind.padEnd(20),
    (info.status + (info.reason === null ? "" : ` (${info.reason})`)).padEnd(20),
    progressText(info).padStart(8),
    isoTime(info.createdAt).padEnd(24),
    info.errorMessage ?? info.message ?? ""
  ].join("  ")

/** The header line over `describe`'s columns. */
export const header = [
  "ID".padEnd(36),
  "KIND".padEnd(20),
  "STATUS".padEnd(20),
  "PROGRESS".padStart(8),
  "CREATED".padEnd(24),
  "MESSAGE"
].join("  ")

/** A task's record for a person: one field a line, times in ISO 8601. */
export const details = (info: TaskInfo.TaskInfo): Array<string> => [
  `id        ${info.id}`,
  `kind      ${info.kind}`,
  `status    ${info.status}${info.reason === null ? "" : ` (${info.reason})`}`,
  `progress  ${progressText(info)}${info.message === null ? "" : ` ${info.message}`}`,
  `attempt   ${info.attempt}`,
  `owner     ${info.owner ?? "-"}`,
  `created   ${isoTime(info.createdAt)}`,
  `started   ${isoTime(info.startedAt)}`,
  `finished  ${isoTime(info.finishedAt)}`,
  ...(info.errorMessage === null ? [] : [`error     ${info.errorMessage}`]),
  ...(info.status === "completed" ? [`result    ${JSON.stringify(info.result)}`] : [])
]

const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("Print JSON, for scripts"), Flag.withDefault(false))

/** Whether Ctrl-C stopped a command while it followed a task (the executable then exits 130). */
let followInterrupted = false

/** The exit code of a command line interrupted by a signal: 130 if it was following a task, else 0. */
export const interruptExitCode = (): number => followInterrupted ? 130 : 0

/** A text progress bar, e.g. `[#######.............]  35% block 7 of 20`. */
export const progressBar = (info: TaskInfo.TaskInfo, width = 30): string => {
  const filled = Math.round((info.progress / 100) * width)
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${`${Math.round(info.progress)}%`.padStart(4)} ${info.status}${
    info.message === null ? "" : ` ${info.message}`
  }`
}

/**
 * Follows a task, drawing its progress, and fails unless it completed. The watch's first answer and each next one
 * come within the time limit (`CliRequests.limitStream`), or it fails; but a task may stay silent for longer: once the
 * watch has answered, a silence past the limit opens it again, and its first answer (the task as it stands, drawn only
 * if it changed) shows the server still answers.
 */
const watch = (client: TaskRpcClient.RawClient, id: string) =>
  Effect.gen(function*() {
    const tty = process.stdout.isTTY === true
    let last: TaskInfo.TaskInfo | undefined
    let drawn = ""
    let answered = false
    // A terminal gets one bar redrawn in place; a pipe gets a line per change.
    const draw = (info: TaskInfo.TaskInfo) => {
      last = info
      answered = true
      const bar = progressBar(info)
      if (bar === drawn) return Effect.void
      drawn = bar
      return tty ? Effect.sync(() => process.stdout.write(`\r${bar}\x1b[K`)) : Console.log(bar)
    }
    const follow = Effect.suspend(() => {
      answered = false
      return Stream.runForEach(client.Watch({ id }), draw)
    }).pipe(Effect.retry({ while: (error) => CliRequests.boundOf(error)?._tag === "NoAnswer" && answered }))
    yield* follow.pipe(Effect.onInterrupt(() =>
      Effect.andThen(
        Effect.sync(() => {
          followInterrupted = true
          if (tty) process.stdout.write("\n")
        }),
        Console.error(`task ${id} keeps running on the server; stop it with: chainjobs interrupt ${id}`)
      )
    ))
    if (tty) process.stdout.write("\n")
    if (last === undefined || !TaskInfo.isTerminal(last.status)) {
      return yield* new CliError({ message: `lost track of task ${id} before it finished` })
    }
    if (last.status !== "completed") {
      return yield* new CliError({ message: `task ${id} ${last.status}: ${last.errorMessage ?? "interrupted"}` })
    }
    yield* Console.log(JSON.stringify(last.result, null, 2))
  })

const submit = Command.make("submit", {
  kind: Argument.String("kind").pipe(Argument.withDescription("The task kind")),
  payload: Flag.String("payload").pipe(Flag.withDescription("The payload, as JSON"), Flag.withDefault("{}")),
  watch: Flag.Boolean("watch").pipe(
    Flag.withDescription("Follow the task with a progress bar; exit 0 if it completes, 1 otherwise"),
    Flag.withDefault(false)
  ),
  timeoutMillis: Flag.Int("timeout-millis").pipe(
    Flag.withDescription("Time limit of one attempt, in milliseconds, over the kind's"),
    within("timeout-millis", 1),
    Flag.optional
  ),
  heartbeatTimeoutMillis: Flag.Int("heartbeat-timeout-millis").pipe(
    Flag.withDescription("How long the task may stay silent, in milliseconds, over the kind's"),
    within("heartbeat-timeout-millis", 1),
    Flag.optional
  ),
  retries: Flag.Int("retries").pipe(
    Flag.withDescription("At most this many retries of a failed attempt (0: none)"),
    within("retries", 0, 1000),
    Flag.optional
  ),
  webhook: Flag.String("webhook").pipe(
    Flag.withDescription("A URL the final record is POSTed to, signed, once the task finishes"),
    Flag.optional
  )
}, (input) =>
  remote((client) =>
    Effect.gen(function*() {
      const payload = yield* Effect.try({
        try: () => JSON.parse(input.payload) as unknown,
        catch: (cause) => new CliError({ message: `--payload is not JSON: ${String(cause)}` })
      })
      const info = yield* client.Submit({
        kind: input.kind,
        payload,
        ...(Option.isSome(input.timeoutMillis) ? { timeoutMillis: input.timeoutMillis.value } : {}),
        ...(Option.isSome(input.heartbeatTimeoutMillis) ? { heartbeatTimeoutMillis: input.heartbeatTimeoutMillis.value } : {}),
        ...(Option.isSome(input.retries) ? { retries: input.retries.value } : {}),
        ...(Option.isSome(input.webhook) ? { webhook: input.webhook.value } : {})
      })
      yield* Console.log(info.id)
      if (input.watch) yield* watch(client, info.id)
    })
  )).pipe(Command.withDescription("Submit a task"))

const status = Command.make("status", { id: Argument.String("id"), json: jsonFlag }, ({ id, json }) =>
  remote((client) =>
    Effect.flatMap(
      client.Get({ id }),
      (info) => json ? Console.log(JSON.stringify(info, null, 2)) : Effect.forEach(details(info), (line) => Console.log(line))
    )
  )).pipe(Command.withDescription("Print a task's record (times in ISO 8601)"))

const result = Command.make("result", { id: Argument.String("id"), json: jsonFlag }, ({ id, json }) =>
  remote((client) =>
    Effect.gen(function*() {
      const info = yield* client.Get({ id })
      if (info.status !== "completed") {
        return yield* new CliError({
          message: TaskInfo.isTerminal(info.status)
            ? `task ${id} ${info.status}: ${info.errorMessage ?? "interrupted"}`
            : `task ${id} is ${info.status} (${progressText(info)}); follow it with: chainjobs watch ${id}`
        })
      }
      yield* Console.log(JSON.stringify(info.result, null, json ? undefined : 2))
    })
  )).pipe(Command.withDescription("Print a completed task's result; fail if it has not completed"))

const watchCommand = Command.make("watch", { id: Argument.String("id") }, ({ id }) =>
  remote((client) => watch(client, id))).pipe(
    Command.withDescription("Follow a task with a progress bar; exit 0 if it completes, 1 otherwise")
  )

const deleteCommand = Command.make("delete", { id: Argument.String("id") }, ({ id }) =>
  remote((client) => Effect.andThen(client.Delete({ id }), Console.log(`deleted ${id}`)))).pipe(
    Command.withDescription("Delete a task's record, interrupting it first if it has not finished")
  )

const retry = Command.make("retry", {
  id: Argument.String("id"),
  watch: Flag.Boolean("watch").pipe(Flag.withDescription("Follow the new task"), Flag.withDefault(false))
}, (input) =>
  remote((client) =>
    Effect.gen(function*() {
      const info = yield* client.Get({ id: input.id })
      const submitted = yield* client.Submit({ kind: info.kind, payload: info.payload, priority: info.priority })
      yield* Console.log(submitted.id)
      if (input.watch) yield* watch(client, submitted.id)
    })
  )).pipe(Command.withDescription("Submit a new task with the kind, payload and priority of another; print its id"))

const kinds = Command.make("kinds", { json: jsonFlag }, ({ json }) =>
  Effect.flatMap(root, ({ timeout, token, url }) =>
    Effect.gen(function*() {
      const base = url.replace(/\/$/, "")
      const request = HttpClientRequest.get(`${base}/api/kinds`).pipe(
        token === "" ? (request) => request : HttpClientRequest.bearerToken(token)
      )
      const response = yield* HttpClient.execute(request).pipe(Effect.mapError(unreachable(url)))
      const body = yield* response.json.pipe(Effect.mapError(unreachable(url)))
      if (response.status !== 200) {
        return yield* new CliError({ message: `${base}/api/kinds answered ${response.status}: ${JSON.stringify(body)}` })
      }
      const found = body as ReadonlyArray<{ readonly name: string; readonly example?: unknown }>
      if (json) return yield* Console.log(JSON.stringify(found, null, 2))
      for (const kind of found) {
        const example = kind.example
        yield* Console.log(`${kind.name.padEnd(24)}${example === undefined ? "" : `  e.g. --payload '${JSON.stringify(example)}'`}`)
      }
    }).pipe(Effect.provide(CliRequests.layerHttp({ url, seconds: timeout }))))).pipe(
    Command.withDescription("List the registered task kinds, with an example payload")
  )

const list = Command.make("list", {
  status: Flag.Literals("status", TaskInfo.TaskStatus.literals).pipe(Flag.optional),
  kind: Flag.String("kind").pipe(Flag.optional),
  limit: Flag.Int("limit").pipe(
    Flag.withDescription(`Tasks a page (1 to ${TaskQuery.maxLimit})`),
    Flag.withDefault(20),
    within("limit", 1, TaskQuery.maxLimit)
  ),
  cursor: Flag.String("cursor").pipe(Flag.withDescription("Continue after a previous page"), Flag.optional),
  json: jsonFlag
}, (input) =>
  remote((client) =>
    Effect.gen(function*() {
      const page = yield* client.List({
        limit: input.limit,
        ...(Option.isSome(input.status) ? { status: [input.status.value] } : {}),
        ...(Option.isSome(input.kind) ? { kind: [input.kind.value] } : {}),
        ...(Option.isSome(input.cursor) ? { cursor: input.cursor.value } : {})
      })
      if (input.json) return yield* Console.log(JSON.stringify(page, null, 2))
      if (page.items.length === 0) return yield* Console.log("no tasks")
      yield* Console.log(header)
      for (const info of page.items) yield* Console.log(describe(info))
      if (page.nextCursor !== null) {
        const filters = [
          ...(Option.isSome(input.status) ? [`--status ${input.status.value}`] : []),
          ...(Option.isSome(input.kind) ? [`--kind ${input.kind.value}`] : []),
          ...(input.limit === 20 ? [] : [`--limit ${input.limit}`])
        ]
        yield* Console.log(`more: chainjobs list ${[...filters, `--cursor ${page.nextCursor}`].join(" ")}`)
      }
    })
  )).pipe(Command.withDescription("List tasks, newest first, a page at a time"))

const interrupt = Command.make("interrupt", { id: Argument.String("id") }, ({ id }) =>
  remote((client) =>
    Effect.andThen(client.Interrupt({ id }), Effect.flatMap(client.Get({ id }), (info) => Console.log(describe(info))))
  )).pipe(Command.withDescription("Interrupt a task and wait until it stopped"))

const purge = Command.make("purge", {
  olderThan: Flag.Int("older-than-seconds").pipe(
    Flag.withDescription("Only tasks finished at least this long ago"),
    Flag.withDefault(0),
    within("older-than-seconds", 0)
  )
}, ({ olderThan }) =>
  remote((client) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const purged = yield* client.Purge({ finishedBefore: now - olderThan * 1000 })
      yield* Console.log(`purged ${purged} finished tasks`)
    })
  )).pipe(Command.withDescription("Delete finished tasks (admins only)"))

const setting = (name: string, variable: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withDescription(`${description} (${variable})`),
    Flag.map((value) => [variable, value] as const),
    Flag.optional
  )

const serve = Command.make("serve", {
  settings: {
    host: setting("host", "CHAINJOBS_HOST", "Interface to bind"),
    port: setting("port", "CHAINJOBS_PORT", "Port to listen on"),
    dataDir: setting("data-dir", "CHAINJOBS_DATA_DIR", "Directory of the SQLite database (:memory: for none)"),
    databaseUrl: setting("database-url", "CHAINJOBS_DATABASE_URL", "PostgreSQL URL, instead of SQLite"),
    pgInserts: setting("pg-inserts", "CHAINJOBS_PG_INSERTS", "How PostgreSQL inserts new records: adaptive, plain or checked"),
    chains: setting("chains", "CHAINJOBS_CHAINS", "Chains, as JSON: [{name, chainId, endpoints: [{url}]}]"),
    suiNetworks: setting("sui-networks", "CHAINJOBS_SUI_NETWORKS", "Sui networks for watchers and balances, as JSON: [{name, endpoints: [{url}]}]"),
    chainKinds: setting("chain-kinds", "CHAINJOBS_CHAIN_KINDS", "Chain kinds' timeouts, concurrency, retries, as JSON by kind name"),
    devChain: setting("dev-chain", "CHAINJOBS_DEV_CHAIN", "Start a local Hardhat chain when no chains are configured"),
    authTokens: setting("auth-tokens", "CHAINJOBS_AUTH_TOKENS", "Bearer tokens, principal=token,..."),
    admins: setting("admins", "CHAINJOBS_ADMINS", "Admin principals, a,b,..."),
    maxWorkers: setting("max-workers", "CHAINJOBS_MAX_WORKERS", "Tasks running at once"),
    submitLimit: setting("submit-limit", "CHAINJOBS_SUBMIT_LIMIT", "Submissions per principal per second"),
    submitBurst: setting("submit-burst", "CHAINJOBS_SUBMIT_BURST", "Submissions a principal may make at once"),
    maxPayloadBytes: setting("max-payload-bytes", "CHAINJOBS_MAX_PAYLOAD_BYTES", "Largest task payload, in bytes"),
    maxPayloadDepth: setting("max-payload-depth", "CHAINJOBS_MAX_PAYLOAD_DEPTH", "Deepest nesting of a task payload"),
    metricsToken: setting("metrics-token", "CHAINJOBS_METRICS_TOKEN", "Bearer token that may read /metrics when auth is on"),
    headersTimeout: setting("headers-timeout", "CHAINJOBS_HEADERS_TIMEOUT", "Time a client gets to send a request's headers"),
    requestTimeout: setting("request-timeout", "CHAINJOBS_REQUEST_TIMEOUT", "Time a client gets to send a whole request"),
    eventBuffer: setting("event-buffer", "CHAINJOBS_EVENT_BUFFER", "Changes an all-tasks event subscriber may lag"),
    eventReplay: setting("event-replay", "CHAINJOBS_EVENT_REPLAY", "Changes kept for event streams to resume from"),
    maxEventStreams: setting("max-event-streams", "CHAINJOBS_MAX_EVENT_STREAMS", "All-tasks event streams a principal may hold open"),
    maxTaskStreams: setting("max-task-streams", "CHAINJOBS_MAX_TASK_STREAMS", "Single-task streams a principal may hold open"),
    maxStreamsPerConnection: setting(
      "max-streams-per-connection",
      "CHAINJOBS_MAX_STREAMS_PER_CONNECTION",
      "Streaming RPC calls a connection may hold open"
    ),
    maxOpenConnections: setting("max-open-connections", "CHAINJOBS_MAX_OPEN_CONNECTIONS", "Connections the HTTP server holds open at once"),
    logLevel: setting("log-level", "CHAINJOBS_LOG_LEVEL", "The least severe log lines written: trace, debug, info, warn, error, fatal, none"),
    shutdownGrace: setting("shutdown-grace", "CHAINJOBS_SHUTDOWN_GRACE", "Time running tasks get to finish on shutdown"),
    runner: setting("runner", "CHAINJOBS_RUNNER", "Run as one runner of a cluster on --database-url (true/false)"),
    runnerHost: setting("runner-host", "CHAINJOBS_RUNNER_HOST", "Host the other runners reach this one at"),
    runnerPort: setting("runner-port", "CHAINJOBS_RUNNER_PORT", "TCP port of the runner transport"),
    runnerPlacement: setting(
      "runner-placement",
      "CHAINJOBS_RUNNER_PLACEMENT",
      "Where unkeyed tasks submitted on this runner go: local (default: here while a worker is free) or shard (spread over every runner)"
    ),
    webhookSecret: setting("webhook-secret", "CHAINJOBS_WEBHOOK_SECRET", "Key webhook deliveries are signed with (none: no webhooks)"),
    webhookAllowHosts: setting("webhook-allow-hosts", "CHAINJOBS_WEBHOOK_ALLOW_HOSTS", "Private hosts webhooks may call, a,b:port,..."),
    webhookMaxAttempts: setting("webhook-max-attempts", "CHAINJOBS_WEBHOOK_MAX_ATTEMPTS", "Delivery attempts before a webhook fails"),
    webhookRetryBase: setting("webhook-retry-base", "CHAINJOBS_WEBHOOK_RETRY_BASE", "Wait after a webhook's first failed attempt, doubling"),
    ...WatchCli.serveSettings(setting),
    ...ScheduleCli.serveSettings(setting)
  }
}, ({ settings }) => {
  const overrides: Record<string, string> = {}
  for (const [variable, value] of Object.values(settings).flatMap(Option.toArray)) overrides[variable] = value
  return Layer.launch(Layer.mergeAll(Server.layer, IdleMemory.layer, HeapGrowth.layer)).pipe(
    Effect.provide(ServerConfig.layerWith(overrides)),
    Effect.provide(Telemetry.layer),
    Effect.provide(Logger.layer([JsonLog.logger]))
  )
}).pipe(Command.withDescription("Run the service: REST API, dashboard, RPC, metrics"))

/** The `chainjobs` command with its subcommands. */
export const command = root.pipe(Command.withSubcommands([
  serve,
  submit,
  status,
  result,
  watchCommand,
  list,
  interrupt,
  deleteCommand,
  retry,
  kinds,
  purge,
  ...WatchCli.commands(root),
  ...ScheduleCli.commands(root),
  ...ChainCli.commands(root),
  ...SuiCli.commands(root)
]))

/** Runs the command line on `argv` (without the node and script paths). */
export const run = Command.runWith(command, { version: "0.1.0" })
