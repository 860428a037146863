/**
 * The `chainjobs` command line:
 *
 * ```
 * chainjobs serve [--port 8080] [--data-dir ./data] ...   run the service
 * chainjobs submit <kind> --payload '{...}' [--watch]    submit a task (and follow it)
 * chainjobs status <id> | list | interrupt <id> | purge   look after tasks
 * ```
 *
 * `serve` runs the service in this process; every other command talks to a
 * running server over `@chainjobs/rpc` (HTTP, ndjson framing) at `--url`
 * (`CHAINJOBS_URL`, default `http://127.0.0.1:8080`) with the bearer token
 * `--token` (`CHAINJOBS_TOKEN`). `submit --watch` draws a progress bar and
 * exits with the task's outcome: 0 when it completed, 1 otherwise.
 *
 * @since 0.1.0
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Clock, Config, Console, Context, Effect, Layer, Logger, Option, Schema, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { Auth, type TaskRpcClient, TaskRpcs } from "@chainjobs/rpc"
import { TaskInfo } from "@chainjobs/tasks"
import * as Server from "./Server.ts"
import * as ServerConfig from "./ServerConfig.ts"
import * as Telemetry from "./Telemetry.ts"

/** A command could not do what it was asked; `message` says why. */
export class CliError extends Schema.TaggedError<CliError>()("CliError", { message: Schema.String }) {}

/** The RPC client of the server the command talks to. */
export class Remote extends Context.Service<Remote, TaskRpcClient.RawClient>()("@chainjobs/server/Cli/Remote") {}

/** The RPC client over HTTP at `<url>/rpc`, sending `token` with every call. */
export const layerRemote = (url: string, token: string): Layer.Layer<Remote> =>
  Layer.effect(Remote, RpcClient.make(TaskRpcs.TaskRpcs)).pipe(
    Layer.provide(Auth.layerClient(token)),
    Layer.provide(RpcClient.layerProtocolHttp({ url: `${url.replace(/\/$/, "")}/rpc` })),
    Layer.provide([NodeHttpClient.layerUndici, RpcSerialization.layerNdjson])
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
    )
  }),
  Command.withDescription("Supervised, observable, interruptible blockchain tasks")
)

/** Runs `f` with the client of the server the shared flags name. */
const remote = <A, E, R>(f: (client: TaskRpcClient.RawClient) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(root, ({ url, token }) => Effect.provide(Remote.use(f), layerRemote(url, token)))

/** One line describing a task. */
export const describe = (info: TaskInfo.TaskInfo): string =>
  [
    info.id,
    info.kind.padEnd(14),
    (info.status + (info.reason === null ? "" : ` (${info.reason})`)).padEnd(20),
    `${Math.round(info.progress)}%`.padStart(4),
    info.errorMessage ?? info.message ?? ""
  ].join("  ")

/** A text progress bar, e.g. `[#######.............]  35% block 7 of 20`. */
export const progressBar = (info: TaskInfo.TaskInfo, width = 30): string => {
  const filled = Math.round((info.progress / 100) * width)
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${`${Math.round(info.progress)}%`.padStart(4)} ${info.status}${
    info.message === null ? "" : ` ${info.message}`
  }`
}

/** Follows a task, drawing its progress, and fails unless it completed. */
const watch = (client: TaskRpcClient.RawClient, id: string) =>
  Effect.gen(function*() {
    const tty = process.stdout.isTTY === true
    let last: TaskInfo.TaskInfo | undefined
    // A terminal gets one bar redrawn in place; a pipe gets a line per change.
    yield* Stream.runForEach(client.Watch({ id }), (info) => {
      last = info
      return tty ? Effect.sync(() => process.stdout.write(`\r${progressBar(info)}\x1b[K`)) : Console.log(progressBar(info))
    })
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
  )
}, (input) =>
  remote((client) =>
    Effect.gen(function*() {
      const payload = yield* Effect.try({
        try: () => JSON.parse(input.payload) as unknown,
        catch: (cause) => new CliError({ message: `--payload is not JSON: ${String(cause)}` })
      })
      const info = yield* client.Submit({ kind: input.kind, payload })
      yield* Console.log(info.id)
      if (input.watch) yield* watch(client, info.id)
    })
  )).pipe(Command.withDescription("Submit a task"))

const status = Command.make("status", { id: Argument.String("id") }, ({ id }) =>
  remote((client) => Effect.flatMap(client.Get({ id }), (info) => Console.log(JSON.stringify(info, null, 2))))).pipe(
    Command.withDescription("Print a task's record")
  )

const list = Command.make("list", {
  status: Flag.Literals("status", TaskInfo.TaskStatus.literals).pipe(Flag.optional),
  kind: Flag.String("kind").pipe(Flag.optional),
  limit: Flag.Int("limit").pipe(Flag.withDefault(20))
}, (input) =>
  remote((client) =>
    Effect.gen(function*() {
      const page = yield* client.List({
        limit: input.limit,
        ...(Option.isSome(input.status) ? { status: [input.status.value] } : {}),
        ...(Option.isSome(input.kind) ? { kind: [input.kind.value] } : {})
      })
      for (const info of page.items) yield* Console.log(describe(info))
      if (page.items.length === 0) yield* Console.log("no tasks")
    })
  )).pipe(Command.withDescription("List tasks, newest first"))

const interrupt = Command.make("interrupt", { id: Argument.String("id") }, ({ id }) =>
  remote((client) =>
    Effect.andThen(client.Interrupt({ id }), Effect.flatMap(client.Get({ id }), (info) => Console.log(describe(info))))
  )).pipe(Command.withDescription("Interrupt a task and wait until it stopped"))

const purge = Command.make("purge", {
  olderThan: Flag.Int("older-than-seconds").pipe(
    Flag.withDescription("Only tasks finished at least this long ago"),
    Flag.withDefault(0)
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
    chains: setting("chains", "CHAINJOBS_CHAINS", "Chains, as JSON: [{name, chainId, endpoints: [{url}]}]"),
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
    shutdownGrace: setting("shutdown-grace", "CHAINJOBS_SHUTDOWN_GRACE", "Time running tasks get to finish on shutdown"),
    runner: setting("runner", "CHAINJOBS_RUNNER", "Run as one runner of a cluster on --database-url (true/false)"),
    runnerHost: setting("runner-host", "CHAINJOBS_RUNNER_HOST", "Host the other runners reach this one at"),
    runnerPort: setting("runner-port", "CHAINJOBS_RUNNER_PORT", "TCP port of the runner transport")
  }
}, ({ settings }) => {
  const overrides: Record<string, string> = {}
  for (const [variable, value] of Object.values(settings).flatMap(Option.toArray)) overrides[variable] = value
  return Layer.launch(Server.layer).pipe(
    Effect.provide(ServerConfig.layerWith(overrides)),
    Effect.provide(Telemetry.layer),
    Effect.provide(Logger.layer([Logger.consoleJson]))
  )
}).pipe(Command.withDescription("Run the service: REST API, dashboard, RPC, metrics"))

/** The `chainjobs` command with its subcommands. */
export const command = root.pipe(Command.withSubcommands([serve, submit, status, list, interrupt, purge]))

/** Runs the command line on `argv` (without the node and script paths). */
export const run = Command.runWith(command, { version: "0.1.0" })
