/**
 * Test resources for the cluster tests: runner child processes (`runner.ts`)
 * on 127.0.0.1 sharing one fresh PostgreSQL schema, commands sent to one
 * runner in particular, and the event file every runner's kinds append to.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as net from "node:net"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { PgClient } from "@effect/sql-pg"
import { ConfigProvider, Effect, Redacted, Schedule, type Scope } from "effect"
import { SqlClient } from "effect/sql"
import type { TaskInfo } from "@chainjobs/tasks"
import { RunnerConfig } from "@chainjobs/cluster"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const entry = fileURLToPath(new URL("./runner.ts", import.meta.url))

/**
 * Node's compile cache for the runner processes (V8 code of the modules they load, TypeScript stripped): a runner
 * spends most of its start-up loading modules, about 2 s of CPU, a quarter less with the cache warm (another runner
 * of this or an earlier run having loaded them). Node checks each entry against its source, so a stale one is only
 * compiled again. `NODE_COMPILE_CACHE` names another directory.
 */
const compileCache = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), "chainjobs-cluster-runner-compile-cache")

/** The test database's URL, if one is configured. */
export const pgTestUrl = process.env.CHAINJOBS_TEST_PG_URL

/**
 * Whether the package's test runners, in this process and child processes, admit the submissions of their shards
 * directly (`RunnerSettings.directAdmission`) where a test does not say: this process's
 * `CHAINJOBS_RUNNER_DIRECT_ADMISSION`, read as a runner reads it, else the runners' default. So
 * `CHAINJOBS_RUNNER_DIRECT_ADMISSION=false npx vitest run packages/cluster` runs the package on the entity-only path.
 */
export const directAdmissionByDefault: boolean = Effect.runSync(
  Effect.orDie(Effect.map(RunnerConfig.config.parse(ConfigProvider.fromEnv()), (settings) => settings.directAdmission))
)

/** One event a test kind recorded. */
export interface Event {
  readonly event: "start" | "end" | "finalizer" | "tick"
  readonly task: string
  readonly runner: string
  readonly at: number
  readonly attempt?: number
  readonly next?: number
  /** How an attempt ended (on `end`): a failed attempt is retried as the next. */
  readonly outcome?: "success" | "failure" | "interrupt"
  /** Why an attempt failed (on a failed `end`). */
  readonly cause?: string
}

/** A runner child process and the commands it answers. */
export interface RunnerProcess {
  readonly name: string
  readonly port: number
  /** Sends a command and waits for its answer. */
  call(op: Record<string, unknown>): Effect.Effect<any>
  /** Submits a task through this runner: its id, or the error tag it was refused with. */
  submit(kind: string, payload: unknown): Effect.Effect<{ readonly id?: string; readonly error?: string }>
  /** Waits through this runner until a task has finished. */
  awaitInfo(id: string): Effect.Effect<TaskInfo.TaskInfo>
  /**
   * Shards held, open to submissions and guarded for direct admission, whether the runners' health check runs here
   * (`RunnerStatus.runsHealthCheck`), and tasks running here.
   */
  readonly status: Effect.Effect<{
    readonly shards: number
    readonly open: number
    readonly guarded: number
    readonly healthCheck: boolean
    readonly running: number
  }>
  /** `kill -9`. */
  readonly kill: Effect.Effect<void>
  /** SIGTERM, then waits for the exit. */
  readonly stop: Effect.Effect<void>
}

/** A runner process spawned with its modules loading or loaded, not in the cluster yet (`TestCluster.prepare`). */
export interface PreparedRunner {
  /** Joins the cluster once loaded: the runner builds its layer (binds its port, takes shards) and answers once ready. */
  readonly join: Effect.Effect<RunnerProcess, never, Scope.Scope>
  /**
   * Joins as `join` does, `env` set in the runner's environment first: settings known only after it was prepared
   * (a chain's `CHAIN_URL`), read when it builds its layer.
   */
  readonly joinWith: (env: Readonly<Record<string, string>>) => Effect.Effect<RunnerProcess, never, Scope.Scope>
}

/** A TCP port free on 127.0.0.1 right now (the system picks it). */
export const freePort = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A cluster under test: a fresh schema, the events file, and runners started on demand. */
export interface TestCluster {
  readonly schema: string
  /** Starts a runner; `env` adds to its environment (e.g. `TICK` to declare the tick schedule). */
  start(name: string, env?: Readonly<Record<string, string>>): Effect.Effect<RunnerProcess, never, Scope.Scope>
  /**
   * Spawns a runner that loads its modules meanwhile but joins the cluster only at `join` (no connection, no port
   * bound, no cluster until then): a restart then costs joining, not loading.
   */
  prepare(name: string, env?: Readonly<Record<string, string>>): Effect.Effect<PreparedRunner, never, Scope.Scope>
  readonly events: () => ReadonlyArray<Event>
}

/** Runs `effect` on a connection of its own to the test database. */
export const onDatabase = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.provide(effect, PgClient.layer({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: 1 }), { local: true }).pipe(
    Effect.orDie
  )

let clusters = 0

/** A fresh cluster in the current scope; its schema and files go when the scope closes. */
export const makeCluster: Effect.Effect<TestCluster, never, Scope.Scope> = Effect.gen(function*() {
  const schema = `cluster_test_${process.pid}_${++clusters}`
  const directory = mkdtempSync(join(tmpdir(), "chainjobs-cluster-"))
  const events = join(directory, "events.jsonl")
  yield* Effect.addFinalizer(() =>
    onDatabase(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`
    })).pipe(Effect.ensuring(Effect.sync(() => rmSync(directory, { recursive: true, force: true }))))
  )
  const start = (name: string, env: Readonly<Record<string, string>> = {}) =>
    Effect.flatMap(spawnRunner(name, env, false), (spawned) => spawned.ready).pipe(retryPortTaken, Effect.orDie)
  const prepare = (name: string, env: Readonly<Record<string, string>> = {}) =>
    Effect.map(spawnRunner(name, env, true), (spawned): PreparedRunner => {
      const joinWith = (late: Readonly<Record<string, string>>) =>
        spawned.join(late).pipe(
          // the port it was given was taken meanwhile: a runner of the same name started afresh, as `start` would
          Effect.catchIf((error) => error instanceof PortTaken, () => start(name, { ...env, ...late })),
          Effect.orDie
        )
      return { join: joinWith({}), joinWith }
    })
  /**
   * Node's (and V8's) flags for every runner process (`RUNNER_NODE_FLAGS`, space-separated; none by default): what a
   * bench compares runners started with V8 heap settings by (`--min-semi-space-size` is not allowed in `NODE_OPTIONS`).
   */
  const nodeFlags = (process.env.RUNNER_NODE_FLAGS ?? "").split(" ").filter((flag) => flag !== "")
  /** Spawns a runner; `held`: it loads its modules and waits for `join` (`runner.ts`' `RUNNER_HOLD`). */
  const spawnRunner = (name: string, env: Readonly<Record<string, string>>, held: boolean) =>
    Effect.gen(function*() {
      const port = yield* freePort
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(`${repoRoot}node_modules/.bin/node`, [...nodeFlags, entry], {
            cwd: repoRoot,
            stdio: ["pipe", "pipe", "inherit"],
            env: {
              ...process.env,
              RUNNER_DIRECT_ADMISSION: String(directAdmissionByDefault),
              ...env,
              ...(held ? { RUNNER_HOLD: "1" } : {}),
              NODE_COMPILE_CACHE: compileCache,
              RUNNER_NAME: name,
              RUNNER_PORT: String(port),
              RUNNER_SCHEMA: schema,
              EVENTS: events
            }
          })
        ),
        (child) => kill(child, "SIGKILL")
      )
      let ref = 0
      const pending = new Map<number, (answer: any) => void>()
      let ready: (() => void) | undefined
      let loaded: (() => void) | undefined
      let portTaken = false
      const exited = (resolved: string) =>
        new Promise<void>((resolve, reject) => {
          if (resolved === "ready") ready = resolve
          else loaded = resolve
          child.once("exit", (code, signal) =>
            reject(
              portTaken
                ? new PortTaken(port)
                : new Error(`runner ${name} exited before it was ${resolved} (${code ?? signal})`)
            ))
        })
      const isReady = exited("ready")
      const isLoaded = held ? exited("loaded") : Promise.resolve()
      // an exit after the wait ended rejects with no one waiting
      isReady.catch(() => undefined)
      isLoaded.catch(() => undefined)
      createInterface({ input: child.stdout! }).on("line", (line) => {
        // the runner's own log lines (its errors included) go on to the test's output
        if (!line.startsWith("{")) {
          if (line.includes("EADDRINUSE")) portTaken = true
          return void process.stderr.write(`[${name}] ${line}\n`)
        }
        const answer = JSON.parse(line)
        if (answer.ready !== undefined) ready?.()
        else if (answer.loaded !== undefined) loaded?.()
        else pending.get(answer.ref)?.(answer)
      })
      const call = (op: Record<string, unknown>) =>
        Effect.callback<any>((resume) => {
          const id = ++ref
          pending.set(id, (answer) => {
            pending.delete(id)
            resume(Effect.succeed(answer))
          })
          child.stdin!.write(`${JSON.stringify({ ...op, ref: id })}\n`)
        })
      const runner: RunnerProcess = {
        name,
        port,
        call,
        submit: (kind, payload) => call({ op: "submit", kind, payload }),
        awaitInfo: (id) => Effect.map(call({ op: "await", id }), (answer) => answer.info),
        status: call({ op: "status" }),
        kill: kill(child, "SIGKILL"),
        stop: kill(child, "SIGTERM")
      }
      const untilReady = Effect.as(Effect.tryPromise({ try: () => isReady, catch: (error) => error }), runner)
      return {
        ready: untilReady,
        join: (env: Readonly<Record<string, string>>) =>
          Effect.tryPromise({ try: () => isLoaded, catch: (error) => error }).pipe(
            Effect.andThen(Effect.sync(() => child.stdin!.write(`${JSON.stringify({ op: "join", env })}\n`))),
            Effect.andThen(untilReady)
          )
      }
    })
  return {
    schema,
    start,
    prepare,
    events: () => {
      try {
        return readFileSync(events, "utf8").split("\n").filter((line) => line !== "").map((line) => JSON.parse(line))
      } catch {
        return []
      }
    }
  }
})

/** A runner could not bind the port picked for it: another process took it between the pick and the bind. */
class PortTaken extends Error {
  readonly port: number
  constructor(port: number) {
    super(`port ${port} was taken before the runner bound it`)
    this.port = port
  }
}

/** Tries `effect` again (a runner on a new port) when the port it was given was taken before the runner bound it. */
const retryPortTaken = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  Effect.retry(effect, { while: (error) => error instanceof PortTaken, times: 4 })

/** Sends `signal` and waits for the exit. */
const kill = (child: ChildProcess, signal: NodeJS.Signals) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill(signal)
  })

/**
 * Waits until every shard is held and each of `runners` holds some, reading their status every 250 ms, at most
 * `settleLimit`; then dies saying what each runner held at its last read.
 */
export const settled = (runners: ReadonlyArray<RunnerProcess>, shards = 30) =>
  Effect.gen(function*() {
    let seen = "no status read yet"
    const look = Effect.gen(function*() {
      const held = yield* Effect.forEach(runners, (runner) => runner.status)
      seen = held.map((status, i) => `${runners[i]!.name} ${status.shards}`).join(", ")
      const total = held.reduce((sum, status) => sum + status.shards, 0)
      if (total !== shards || held.some((status) => status.shards === 0)) return yield* Effect.fail("unsettled")
    })
    yield* look.pipe(
      Effect.retry(Schedule.spaced("250 millis")),
      Effect.timeout(settleLimit),
      Effect.catchTag("TimeoutError", () =>
        Effect.die(new Error(`the runners did not settle on ${shards} shards in ${settleLimit}: shards held ${seen}`)))
    )
  })

/** How long `settled` waits: after the runners are ready, their shards settle in a few seconds even at load 20. */
const settleLimit = "60 seconds"
