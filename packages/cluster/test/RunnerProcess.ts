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
import { Effect, Redacted, Schedule, type Scope } from "effect"
import { SqlClient } from "effect/sql"
import type { TaskInfo } from "@chainjobs/tasks"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const entry = fileURLToPath(new URL("./runner.ts", import.meta.url))

/** The test database's URL, if one is configured. */
export const pgTestUrl = process.env.CHAINJOBS_TEST_PG_URL

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
  /** Shards held and tasks running here. */
  readonly status: Effect.Effect<{ readonly shards: number; readonly running: number }>
  /** `kill -9`. */
  readonly kill: Effect.Effect<void>
  /** SIGTERM, then waits for the exit. */
  readonly stop: Effect.Effect<void>
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
    startOnce(name, env).pipe(
      // the port was free when picked but another process bound it before the runner did: pick another
      Effect.retry({ while: (error) => error instanceof PortTaken, times: 4 }),
      Effect.orDie
    )
  const startOnce = (name: string, env: Readonly<Record<string, string>>) =>
    Effect.gen(function*() {
      const port = yield* freePort
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(`${repoRoot}node_modules/.bin/node`, [entry], {
            cwd: repoRoot,
            stdio: ["pipe", "pipe", "inherit"],
            env: { ...process.env, ...env, RUNNER_NAME: name, RUNNER_PORT: String(port), RUNNER_SCHEMA: schema, EVENTS: events }
          })
        ),
        (child) => kill(child, "SIGKILL")
      )
      let ref = 0
      const pending = new Map<number, (answer: any) => void>()
      let ready: (() => void) | undefined
      let portTaken = false
      const isReady = new Promise<void>((resolve, reject) => {
        ready = resolve
        child.once("exit", (code, signal) =>
          reject(
            portTaken
              ? new PortTaken(port)
              : new Error(`runner ${name} exited before it was ready (${code ?? signal})`)
          ))
      })
      createInterface({ input: child.stdout! }).on("line", (line) => {
        // the runner's own log lines (its errors included) go on to the test's output
        if (!line.startsWith("{")) {
          if (line.includes("EADDRINUSE")) portTaken = true
          return void process.stderr.write(`[${name}] ${line}\n`)
        }
        const answer = JSON.parse(line)
        if (answer.ready !== undefined) ready?.()
        else pending.get(answer.ref)?.(answer)
      })
      yield* Effect.tryPromise({ try: () => isReady, catch: (error) => error })
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
      return runner
    })
  return {
    schema,
    start,
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

/** Sends `signal` and waits for the exit. */
const kill = (child: ChildProcess, signal: NodeJS.Signals) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill(signal)
  })

/** Waits until every shard is held and each of `runners` holds some. */
export const settled = (runners: ReadonlyArray<RunnerProcess>, shards = 30) =>
  Effect.gen(function*() {
    const held = yield* Effect.forEach(runners, (runner) => runner.status)
    const total = held.reduce((sum, status) => sum + status.shards, 0)
    if (total !== shards || held.some((status) => status.shards === 0)) return yield* Effect.fail("unsettled")
  }).pipe(Effect.retry(Schedule.spaced("250 millis")), Effect.orDie)
