/**
 * What a runner spends on another runner's task changes (`ClusterFeed`): the
 * fan-out that grows with the runners. Every runner hears every other
 * runner's final records (sent always, whoever wants them), so with n
 * runners each task's final record is heard n − 1 times.
 *
 * One runner's feed in this process, as a runner has it (its own supervisor
 * over a fresh schema, its listener on a connection of its own, a `TaskFeed`
 * taking every change as a runner's service does), hears `records` final
 * records of I/O tasks sent by `psql` in another process (started before,
 * its statements handed to it when the measurement starts), `perNotification`
 * to a notification as the sender's `linger` packs them. The figure is this
 * process's CPU time from the first send to the last record heard, less its
 * idle CPU for as long, per record: the cost on each runner that hears a
 * task it does not run.
 */
import { spawn } from "node:child_process"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted, Stream } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import { ClusterFeed } from "@chainjobs/cluster"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { TaskFeed, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"

/** A pool of `size` connections on `schema` of the database at `url`. */
const pool = (url: string, schema: string, size: number) =>
  PgClient.make({ url: Redacted.make(url), maxConnections: size, startupParameters: { search_path: schema } }).pipe(
    Effect.provide(Reactivity.layer)
  )

/** The sender's address, as another runner's notifications carry it. */
const sender = "127.0.0.1:40000"

/** The final record of the bench's I/O task number `n` (`{ ms: 20 }`, succeeded), as a runner sends it. */
const finalRecord = (n: number) => ({
  id: `0193a1b2-c3d4-7e5f-8a9b-${n.toString(16).padStart(12, "0")}`,
  kind: "io",
  status: "succeeded",
  reason: null,
  priority: 0,
  key: null,
  owner: null,
  attempt: 1,
  progress: 100,
  message: null,
  detail: null,
  payload: { ms: 20 },
  result: null,
  error: null,
  errorMessage: null,
  checkpoint: null,
  createdAt: 1_764_700_000_000 + n,
  startedAt: 1_764_700_000_001 + n,
  finishedAt: 1_764_700_000_021 + n,
  heartbeatAt: null,
  expiresAt: null,
  runner: sender
})

/** The receiver's CPU per record heard, µs, for one packing. */
export interface Heard {
  readonly perNotification: number
  readonly micros: number
}

/**
 * Starts `psql` against `url` in another process, reading its statements from stdin: started before the measurement
 * (spawning it costs this process milliseconds of CPU), it waits for `send`, which hands it `statements` and waits
 * for its exit, failing unless it exited with 0 (`-v ON_ERROR_STOP=1`: a statement refused ends it so). Its exit is
 * watched from the spawn: psql may end before `send` (a bad URL, a dropped connection), and `send` then fails at once
 * instead of waiting for an `exit` already emitted. Killed with the scope if still running.
 */
const psql = (url: string) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn("psql", [url, "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"], { stdio: ["pipe", "ignore", "pipe"] })
        let stderr = ""
        child.stderr!.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
        // writing to a psql that has exited fails with EPIPE: its exit says why
        child.stdin!.on("error", () => {})
        const exited = new Promise<string | undefined>((resolve) => {
          child.once("error", (error) => resolve(`psql could not start: ${error.message}`))
          child.once("close", (code, signal) =>
            resolve(code === 0 ? undefined : `psql exited with ${code ?? signal}: ${stderr.trim()}`))
        })
        return { child, exited }
      }),
      ({ child }) => Effect.sync(() => void child.kill())
    ),
    ({ child, exited }) => ({
      send: (statements: string) =>
        Effect.flatMap(
          Effect.promise(() => {
            child.stdin!.end(statements)
            return exited
          }),
          (failure) => failure === undefined ? Effect.void : Effect.die(new Error(failure))
        )
    })
  )

/** How long the feed may take to hear a packing's records once psql has sent them all. */
const hearingBound = "60 seconds"

/** The CPU time this process has spent so far, µs. */
const cpuNow = () => {
  const spent = process.cpuUsage()
  return spent.user + spent.system
}

/** For each packing in `perNotification`: the CPU the feed of a runner spends per final record of another runner's it hears. */
export const heardCost = (url: string, perNotification: ReadonlyArray<number>, records: number) =>
  Effect.scoped(Effect.gen(function*() {
    const schema = `feed_heard_${process.pid}`
    const admin = yield* pool(url, "public", 1)
    yield* admin`CREATE SCHEMA ${admin(schema)}`
    yield* Effect.addFinalizer(() => Effect.ignore(admin`DROP SCHEMA ${admin(schema)} CASCADE`))
    const sql = yield* pool(url, schema, 4)
    const store = yield* Effect.provideService(SqlTaskStore.make(), SqlClient.SqlClient, sql)
    const local = yield* Tasks.make.pipe(
      Effect.provideService(TaskStore.TaskStore, store),
      Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ shutdownGracePeriod: 0 }))
    )
    const channel = ClusterFeed.channelOf(schema)
    const feed = yield* ClusterFeed.make({ local, origin: "127.0.0.1:1", channel, pg: yield* pool(url, schema, 2) }).pipe(
      Effect.provideService(TaskStore.TaskStore, store)
    )
    // the runner's service: its changes are the feed's, which a `TaskFeed` takes all of
    const service: Tasks.Tasks["Service"] = { ...local, changes: feed.changes, changesAndDeletions: feed.changesAndDeletions, stats: feed.stats }
    yield* TaskFeed.make().pipe(Effect.provideService(Tasks.Tasks, service))
    let heard = 0
    yield* Effect.forkScoped(Stream.runForEach(feed.changes, () => Effect.sync(() => void heard++)))
    const results: Array<Heard> = []
    let sequence = 0
    for (const per of perNotification) {
      const lines: Array<string> = []
      for (let n = 0; n < records; n += per) {
        const items = Array.from({ length: per }, (_, k) => JSON.stringify({ i: finalRecord(sequence * records + n + k) }))
        const payload = `${sender}\ncbench.${++sequence}.${Date.now()}\n[${items.join(",")}]`
        lines.push(`NOTIFY ${channel}, '${payload.replaceAll("'", "''")}';`)
      }
      const statements = lines.join("\n")
      const sending = yield* psql(url)
      // the feed's idle CPU per second, to take off
      const idleBefore = cpuNow()
      const idleStarted = Date.now()
      yield* Effect.sleep("2 seconds")
      const idlePerMilli = (cpuNow() - idleBefore) / (Date.now() - idleStarted)
      const before = heard
      const cpu = cpuNow()
      const started = Date.now()
      yield* sending.send(statements)
      yield* Effect.whileLoop({ while: () => heard - before < records, body: () => Effect.sleep("5 millis"), step: () => {} }).pipe(
        Effect.timeoutOrElse({
          duration: hearingBound,
          orElse: () =>
            Effect.die(new Error(`the feed heard ${heard - before} of ${records} records (${per} to a notification) in ${hearingBound}`))
        })
      )
      const spent = cpuNow() - cpu - idlePerMilli * (Date.now() - started)
      results.push({ perNotification: per, micros: spent / records })
    }
    return results
  }))
