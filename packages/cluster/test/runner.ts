/**
 * One runner of the test cluster, run as a child process by the pinned Node
 * (`node packages/cluster/test/runner.ts`). Settings come from the
 * environment: `CHAINJOBS_TEST_PG_URL`, `RUNNER_NAME`, `RUNNER_PORT`,
 * `RUNNER_SCHEMA`, `EVENTS` (a file the kinds append one JSON line per event to), and with `CHAIN_URL` (a
 * Hardhat node) the chain kind `chain/scan-addresses` on it as the chain `dev`, its requests held to `CHAIN_RATE`
 * per second, each attempt recorded (start with the block it starts from, end); with `RUNNER_HOLD` it loads and
 * waits to be told to join (below), and with `RUNNER_CHAIN` as well it loads the chain package for a `CHAIN_URL`
 * given when it joins. `RUNNER_PLACEMENT` (`local` or `shard`) says where the unkeyed tasks submitted on it go (`LocalPlacement`; else
 * the runners' default with its direct admission).
 *
 * It prints `ready` once it has joined, then answers commands read from stdin,
 * one JSON object a line, with one JSON line each on stdout:
 * - `{"op":"submit","ref":1,"kind":"sleep","payload":{…}}` → `{"ref":1,"id":"…"}` or `{"ref":1,"error":"SubmitRejected"}`
 * - `{"op":"interrupt","ref":2,"id":"…"}` → `{"ref":2,"done":true}`
 * - `{"op":"await","ref":3,"id":"…"}` → `{"ref":3,"info":{…}}` (`get` reads it now, as it is)
 * - `{"op":"cpu","ref":14}` → `{"ref":14,"cpuMicros":…}` (the CPU time this process has spent so far)
 * - `{"op":"status","ref":4}` → `{"ref":4,"shards":…,"open":…,"guarded":…,"healthCheck":…,"running":…}` (shards
 *   held, open to submissions, guarded for direct admission; whether the runners' health check runs here)
 * - `{"op":"declare","ref":6,"declaration":{name,kind,payload,trigger}}` → `{"ref":6,"stored":{…}}` (stored, `PersistedSchedules`);
 *   `{"op":"undeclare","ref":7,"name":"…"}` → `{"ref":7,"done":true}`
 * - `{"op":"burst","ref":5,"kind":"io","payload":{…},"count":1000,"concurrency":200}` → `{"ref":5,"millis":…,"cpuMicros":…,"gcMicros":…}`
 *   (the CPU time this process spent meanwhile, on whatever it did: user and system; and its collection pauses)
 * - `{"op":"follow","ref":8}` starts following every change through a `TaskFeed` (what `/api/events` and RPC
 *   `WatchAll` serve); `{"op":"followed","ref":9}` → `{"ref":9,"changes":[{id,status,progress,deleted},…]}`
 * - `{"op":"watch","ref":10,"id":"…"}` starts following one task through the feed; `{"op":"watched","ref":11,"id":"…"}`
 *   → `{"ref":11,"changes":[…],"ended":true|false}`
 * - `{"op":"delete","ref":12,"id":"…"}` → `{"ref":12,"done":true}`; `{"op":"stats","ref":13}` → `{"ref":13,"stats":{…}}`
 * It stops gracefully (handing its shards over) on SIGTERM or when stdin
 * closes, and after three minutes in any case (`RUNNER_LIFETIME_MS`).
 */
import { appendFileSync } from "node:fs"
import { createInterface } from "node:readline"
// by its own path: the package's index also loads its Redis client (see Runner.ts)
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Duration, Effect, Exit, Layer, Option, Redacted, Schedule, Schema, Stream } from "effect"
import { PersistedSchedules, Task, TaskContext, TaskFeed, Tasks } from "@chainjobs/tasks"
import { Runner, RunnerConfig } from "@chainjobs/cluster"
import { startProfile } from "./cpuProfile.ts"
import { gcMillis } from "./gcTime.ts"

const name = process.env.RUNNER_NAME ?? "runner"
const events = process.env.EVENTS!
// the chain package (viem and its kin), loaded only by a runner with a chain (`CHAIN_URL`, or `RUNNER_CHAIN` for one
// given when it joins): a fifth of a runner's start-up otherwise
const chain = process.env.CHAIN_URL === undefined && process.env.RUNNER_CHAIN === undefined
  ? undefined
  : await import("@chainjobs/chain")

/** Appends one event line: what happened to which task, on this runner, when. */
const record = (event: Record<string, unknown>) =>
  Effect.sync(() => appendFileSync(events, `${JSON.stringify({ ...event, runner: name, at: Date.now() })}\n`))

/**
 * Records the end of an attempt however it ended (an attempt that fails and is retried ends too): its outcome, and
 * for a failure the cause, so that a test can tell attempts apart from overlaps.
 */
const recordEnd = (task: string, attempt: number, exit: Exit.Exit<unknown, unknown>) =>
  record({
    event: "end",
    task,
    attempt,
    outcome: Exit.isSuccess(exit) ? "success" : Exit.hasInterrupts(exit) ? "interrupt" : "failure",
    ...(Exit.isFailure(exit) ? { cause: Cause.pretty(exit.cause).slice(0, 500) } : {})
  })

/** Waits `ms`; unkeyed: on the runner it is submitted on while a worker is free there (local placement), else spread. */
export const SleepKind = Task.define("sleep", {
  payload: Schema.Struct({ ms: Schema.Number }),
  success: Schema.String
})

/** Holds its key until interrupted; a second submission of the key is refused. */
export const HoldKind = Task.define("hold", {
  payload: Schema.Struct({ key: Schema.String }),
  success: Schema.Void,
  policy: { key: ({ key }) => key, onConflict: "reject" }
})

/** A scan over `from..to`, one step per `stepMs`, checkpointed after every step; its result depends on every step. */
export const ScanKind = Task.define("scan", {
  payload: Schema.Struct({ from: Schema.Number, to: Schema.Number, stepMs: Schema.Number }),
  success: Schema.Number,
  checkpoint: Schema.Struct({ next: Schema.Number, acc: Schema.Number }),
  policy: { onRestart: "resume" }
})

/** Records a tick: the task a one-second schedule submits (declared by every runner when `TICK` is set). */
export const TickKind = Task.define("tick", { payload: Schema.Struct({}), success: Schema.Void })

/** Waits `ms` and records nothing: the I/O-bound task of the benchmark. */
export const IoKind = Task.define("io", { payload: Schema.Struct({ ms: Schema.Number }), success: Schema.Void })

/** Reports progress `steps` times, one step per `stepMs`. */
export const StepsKind = Task.define("steps", {
  payload: Schema.Struct({ steps: Schema.Number, stepMs: Schema.Number }),
  success: Schema.String
})

/** Does nothing: the routing-cost task of the benchmark. */
export const NoopKind = Task.define("noop", { payload: Schema.Struct({}), success: Schema.Void })

const kinds = Layer.mergeAll(
  Task.implement(IoKind, ({ ms }) => Effect.sleep(ms)),
  Task.implement(TickKind, (_, { taskId }) => record({ event: "tick", task: taskId })),
  Task.implement(NoopKind, () => Effect.void),
  Task.implement(StepsKind, ({ stepMs, steps }) =>
    Effect.gen(function*() {
      const context = yield* TaskContext.TaskContext
      for (let step = 1; step <= steps; step++) {
        yield* Effect.sleep(stepMs)
        yield* context.progress((100 * step) / steps, `step ${step}`)
      }
      return name
    })),
  Task.implement(SleepKind, ({ ms }) =>
    Effect.gen(function*() {
      const { taskId } = yield* TaskContext.TaskContext
      yield* record({ event: "start", task: taskId })
      yield* Effect.sleep(ms)
      yield* record({ event: "end", task: taskId })
      return name
    })),
  Task.implement(HoldKind, () =>
    Effect.gen(function*() {
      const { taskId } = yield* TaskContext.TaskContext
      yield* Effect.addFinalizer(() => record({ event: "finalizer", task: taskId }))
      yield* record({ event: "start", task: taskId })
      return yield* Effect.never
    })),
  Task.implement(ScanKind, ({ from, stepMs, to }) =>
    Effect.gen(function*() {
      const { attempt, taskId } = yield* TaskContext.TaskContext
      const last = yield* Task.loadCheckpoint(ScanKind)
      let { acc, next } = Option.getOrElse(last, () => ({ next: from, acc: 1 }))
      yield* record({ event: "start", task: taskId, attempt, next })
      return yield* Effect.gen(function*() {
        while (next <= to) {
          yield* Effect.sleep(stepMs)
          acc = (acc * 31 + next) % 1_000_000_007
          next++
          yield* Task.saveCheckpoint(ScanKind, { next, acc })
        }
        return acc
      }).pipe(Effect.onExit((exit) => recordEnd(taskId, attempt, exit)))
    }))
)

/** `ChainTasks.ScanAddresses` on the Hardhat node at `CHAIN_URL`, each attempt's start (and block) and end recorded. */
const chainKinds = ({ ChainConfig, Chains, ChainTasks }: NonNullable<typeof chain>, url: string) =>
  Task.implement(ChainTasks.ScanAddresses, (payload, context) =>
    Effect.gen(function*() {
      const last = yield* Task.loadCheckpoint(ChainTasks.ScanAddresses)
      const next = Option.match(last, { onNone: () => payload.fromBlock, onSome: (checkpoint) => checkpoint.lastBlock + 1 })
      yield* record({ event: "start", task: context.taskId, attempt: context.attempt, next })
      return yield* ChainTasks.scanAddresses(payload, context).pipe(
        Effect.onExit((exit) => recordEnd(context.taskId, context.attempt, exit))
      )
    })).pipe(
      Layer.provide(Chains.layerMemory([
        ChainConfig.chain({
          name: "dev",
          chainId: 31337,
          endpoints: [{ url, rateLimit: { limit: Number(process.env.CHAIN_RATE ?? 50), window: "1 second" } }],
          headTtl: "1 second"
        })
      ]))
    )

const byName: Record<string, Task.Any> = {
  ...(chain === undefined ? {} : { "chain/scan-addresses": chain.ChainTasks.ScanAddresses }),
  sleep: SleepKind,
  hold: HoldKind,
  scan: ScanKind,
  io: IoKind,
  noop: NoopKind,
  steps: StepsKind
}

/** What a followed change tells a test. */
const brief = (change: TaskFeed.Change) => ({
  id: change.info.id,
  status: change.info.status,
  progress: change.info.progress,
  runner: change.info.runner,
  deleted: change.deleted
})

/** Whether this runner admits its own shards' submissions directly: the runners' default unless the test says. */
const directAdmission = process.env.RUNNER_DIRECT_ADMISSION === undefined
  ? RunnerConfig.defaults.directAdmission
  : process.env.RUNNER_DIRECT_ADMISSION === "true"

const runner = Runner.layer({
  databaseUrl: Redacted.make(process.env.CHAINJOBS_TEST_PG_URL!),
  runner: {
    ...RunnerConfig.defaults,
    port: Number(process.env.RUNNER_PORT),
    shards: 30,
    ...(process.env.RUNNER_POLL_MS ? { messagePollInterval: Duration.millis(Number(process.env.RUNNER_POLL_MS)) } : {}),
    directAdmission,
    // where unkeyed tasks submitted here go (`LocalPlacement`): the default with this direct admission unless the
    // test or bench says
    placement: process.env.RUNNER_PLACEMENT === "local" || process.env.RUNNER_PLACEMENT === "shard"
      ? process.env.RUNNER_PLACEMENT
      : undefined
  },
  supervisor: { maxWorkers: Number(process.env.RUNNER_WORKERS ?? 50), shutdownGracePeriod: "5 seconds" },
  maxConnections: Number(process.env.RUNNER_PG_CONNECTIONS ?? 6),
  schema: process.env.RUNNER_SCHEMA
})

/**
 * How long the runner runs if stdin never closes (`RUNNER_LIFETIME_MS`, default three minutes): a test's runner
 * left behind goes by itself. A benchmark that keeps its runners longer (`npm run bench -- cluster`) says so.
 */
const lifetime = Duration.millis(Number(process.env.RUNNER_LIFETIME_MS ?? 180_000))

const reply = (line: Record<string, unknown>) => Effect.sync(() => process.stdout.write(`${JSON.stringify(line)}\n`))

const main = Effect.gen(function*() {
  const tasks = yield* Tasks.Tasks
  const status = yield* Runner.RunnerStatus
  const schedules = yield* PersistedSchedules.PersistedSchedules
  const feed = yield* TaskFeed.make()
  const followed: Array<ReturnType<typeof brief>> = []
  const watched = new Map<string, { changes: Array<ReturnType<typeof brief>>; ended: boolean }>()
  const command = (line: string) =>
    Effect.gen(function*() {
      const request = JSON.parse(line)
      const ref = request.ref
      const answer = Effect.gen(function*() {
        switch (request.op) {
          case "submit": {
            const handle = yield* tasks.submit(byName[request.kind], request.payload)
            return { ref, id: handle.id }
          }
          case "interrupt":
            yield* tasks.interrupt(request.id)
            return { ref, done: true }
          case "await":
            return { ref, info: yield* tasks.awaitInfo(request.id) }
          case "get":
            return { ref, info: yield* tasks.get(request.id) }
          case "burst": {
            // Submits `count` tasks through this runner, at most `concurrency` in flight, and waits for all.
            const profiler = typeof request.profile === "string" ? yield* startProfile : undefined
            const gc = gcMillis()
            const cpu = process.cpuUsage()
            const started = Date.now()
            yield* Effect.forEach(
              Array.from({ length: request.count }, (_, i) => i),
              () =>
                request.submitOnly === true
                  ? tasks.submit(byName[request.kind], request.payload)
                  : Effect.flatMap(tasks.submit(byName[request.kind], request.payload), (handle) => handle.join),
              { concurrency: request.concurrency, discard: true }
            )
            const spent = process.cpuUsage(cpu)
            if (profiler !== undefined) yield* profiler(request.profile)
            return { ref, millis: Date.now() - started, cpuMicros: spent.user + spent.system, gcMicros: (gcMillis() - gc) * 1000 }
          }
          case "declare":
            return { ref, stored: yield* schedules.declare(request.declaration) }
          case "undeclare":
            yield* schedules.remove(request.name)
            return { ref, done: true }
          case "follow": {
            yield* Effect.forkDetach(
              Stream.runForEach(feed.all({ visible: () => true }), (item) =>
                Effect.sync(() => item._tag === "Change" && followed.push(brief(item))))
            )
            return { ref, done: true }
          }
          case "followed":
            return { ref, changes: followed }
          case "watch": {
            const entry = { changes: [] as Array<ReturnType<typeof brief>>, ended: false }
            watched.set(request.id, entry)
            yield* Effect.forkDetach(
              Stream.runForEach(feed.watch(request.id), (change) => Effect.sync(() => entry.changes.push(brief(change)))).pipe(
                Effect.ensuring(Effect.sync(() => (entry.ended = true)))
              )
            )
            return { ref, done: true }
          }
          case "watched":
            return { ref, ...watched.get(request.id) }
          case "delete":
            yield* tasks.delete(request.id)
            return { ref, done: true }
          case "stats":
            return { ref, stats: yield* tasks.stats }
          case "cpu": {
            // The CPU time (user and system, µs) this process has spent so far: what a bench reads twice around a wait.
            const spent = process.cpuUsage()
            return { ref, cpuMicros: spent.user + spent.system }
          }
          case "status":
            return {
              ref,
              shards: yield* status.shardsHeld,
              open: yield* status.shardsOpen,
              guarded: yield* status.shardsGuarded,
              healthCheck: yield* status.runsHealthCheck,
              ...(yield* status.tasks)
            }
        }
        return { ref, error: "unknown op" }
      })
      yield* Effect.flatMap(
        Effect.catch(answer, (error: { readonly _tag: string }) => Effect.succeed({ ref, error: error._tag })),
        reply
      )
    })
  if (process.env.TICK !== undefined) yield* tasks.schedule(TickKind, {}, { schedule: Schedule.cron("* * * * * *") })
  const lines = createInterface({ input: process.stdin })
  const closed = Effect.callback<void>((resume) => {
    lines.on("line", (line) => void Effect.runFork(command(line)))
    lines.once("close", () => resume(Effect.void))
  })
  yield* reply({ ready: name })
  yield* Effect.timeoutOption(closed, lifetime)
})

/**
 * With `RUNNER_HOLD` set, the process loads its modules, says `{"loaded":name}`, and joins the cluster only when its
 * first line comes (`{"op":"join","env":{…}}`, `env` set in its environment first): a test prepares the runners of a
 * restart (or those of a chain that is still starting) while it does other things, so that joining costs joining,
 * not loading (seconds of CPU on a loaded machine). Until it joins it has no connection and no port, and is in no
 * cluster. It goes if stdin closes first, and after three minutes in any case.
 */
const joined = process.env.RUNNER_HOLD === undefined ? Promise.resolve() : new Promise<void>((resolve) => {
  const unjoined = setTimeout(() => process.exit(0), 180_000)
  const leave = () => process.exit(0)
  process.stdin.once("end", leave)
  process.stdin.once("data", (chunk) => {
    // nothing more comes until this runner says it is ready; readline (in `main`) resumes the stream
    process.stdin.pause()
    const told = JSON.parse(String(chunk).split("\n")[0]!) as { readonly env?: Record<string, string> }
    Object.assign(process.env, told.env ?? {})
    process.stdin.off("end", leave)
    clearTimeout(unjoined)
    resolve()
  })
  process.stdout.write(`${JSON.stringify({ loaded: name })}\n`)
})
await joined

NodeRuntime.runMain(
  Effect.scoped(main.pipe(Effect.provide(PersistedSchedules.layer.pipe(Layer.provideMerge(
    Layer.mergeAll(kinds, chain === undefined || process.env.CHAIN_URL === undefined ? Layer.empty : chainKinds(chain, process.env.CHAIN_URL)).pipe(
      Layer.provideMerge(runner)
    )
  )))))
)
