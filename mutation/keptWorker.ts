/**
 * `vitest-kept`, the Stryker test runner of a mutation run (`stryker.config.mjs`):
 * Stryker's own vitest runner, whose vitest keeps one test worker — and
 * every module it evaluated — alive from one mutant's run to the next.
 *
 * Why: Stryker's vitest runner calls `vitest.start(files)` once per mutant,
 * and vitest's pool keeps a non-isolated worker only while another task of
 * the same run is queued (`Pool.schedule`), so at the end of each run it
 * stops the worker and the next mutant starts a new one, which loads effect,
 * the runtime and the package's modules again: tens of seconds a mutant on
 * the loaded machine, against a few seconds of the tests themselves. A
 * mutant needs no reload to be switched on: instrumented code reads the
 * active mutant (`globalThis.__stryker__.activeMutant`, set in a `beforeAll`)
 * when it runs, and vitest imports every run's test files and setup files
 * again (`invalidate`), so their tests are collected anew.
 *
 * How: vitest's supported extension point for a worker that outlives a run,
 * a custom pool (`PoolRunnerInitializer`, given to vitest as the runner's
 * `pool` option). Its workers share one `ThreadsPoolWorker` (the thread
 * Stryker's runner would use): the `start` and `stop` a pool runner sends
 * around each run are answered here (the thread keeps its environment and
 * module runner), `run` goes through with the run's test name filter, and
 * the thread is ended only when the runner asks for a fresh one:
 *
 * - for a mutant whose run asks to reload the environment (`reloadEnvironment`:
 *   one reached while a module loads, as well as in tests), before its run
 *   and after it (its run loaded modules with the mutant switched on);
 * - after a run that may leave work behind: a test stopped at vitest's bound
 *   (`Test timed out`), an error outside the tests, or a forced stop;
 * - after a run in a thread that was started for it (not clean: its modules
 *   computed what they keep with that run's mutant on). A fresh thread for a
 *   runtime mutant is therefore first warmed: the dry run's tests run in it
 *   with no mutant on, as in the dry run, when the mutant's timeout leaves
 *   room (three dry runs' time); then it serves the next runs too — but not
 *   when the last warmed thread served a single run that left work behind
 *   (`warmPolicy.ts`: in a row of runs that hang a test each warm-up would
 *   serve one run), when it serves its run alone;
 * - when a survivor's covering tests never reached it in a reused thread
 *   (hit count 0: something computed once in an earlier run, such as a value
 *   kept by a module, stood in for its code): it is run again in a fresh
 *   thread, whose verdict counts;
 * - every `CHAINJOBS_MUTATE_KEEP_WORKER` runs (default 100), so that what a
 *   long run leaks stays bounded.
 *
 * `CHAINJOBS_MUTATE_KEEP_LOG=<file>` records each mutant's run (below).
 *
 * Only non-isolated projects (`isolate: false` in `vitest.config.ts`) keep
 * their thread: an isolated one loads every module again per file anyway.
 * `CHAINJOBS_MUTATE_KEEP_WORKER=0` turns it off (Stryker's plain `vitest`
 * runner, a fresh worker per mutant): `stryker.config.mjs` reads it.
 */
import { commonTokens, declareFactoryPlugin, type Injector, PluginKind, type PluginContext, tokens } from "@stryker-mutator/api/plugin"
import type { StrykerOptions } from "@stryker-mutator/api/core"
import {
  type DryRunOptions,
  type DryRunResult,
  DryRunStatus,
  type MutantRunOptions,
  type MutantRunResult,
  MutantRunStatus,
  type TestRunner,
  type TestRunnerCapabilities
} from "@stryker-mutator/api/test-runner"
import { strykerPlugins as vitestPlugins } from "@stryker-mutator/vitest-runner"
import { EventEmitter } from "node:events"
import { appendFileSync } from "node:fs"
import { type PoolOptions, type PoolRunnerInitializer, type PoolWorker, ThreadsPoolWorker, type Vitest, type WorkerRequest } from "vitest/node"
import { WarmPolicy } from "./warmPolicy.ts"

/**
 * How many runs one thread serves before a fresh one is started, from
 * `CHAINJOBS_MUTATE_KEEP_WORKER` (default 100; 0 turns keeping off, which
 * `stryker.config.mjs` reads to choose Stryker's plain runner). Anything but a
 * whole number stops the run.
 */
export const keptRunsOf = (setting: string | undefined): number => {
  if (setting === undefined || setting === "") return 100
  if (!/^[0-9]+$/.test(setting) || !Number.isSafeInteger(Number(setting))) {
    throw new Error(`CHAINJOBS_MUTATE_KEEP_WORKER must be a whole number of runs (0: a fresh worker per mutant), not ${JSON.stringify(setting)}`)
  }
  return Number(setting)
}

const keptRuns = keptRunsOf(process.env.CHAINJOBS_MUTATE_KEEP_WORKER)

/**
 * `CHAINJOBS_MUTATE_KEEP_LOG=<file>`: a line of JSON a mutant appended to
 * that file (its id, whether its run reloaded or reused the thread, the hits
 * of its mutant, its first and final status, its milliseconds), to measure
 * what keeping the thread does.
 */
const runLog = process.env.CHAINJOBS_MUTATE_KEEP_LOG === "" ? undefined : process.env.CHAINJOBS_MUTATE_KEEP_LOG

/** The pool's name, as vitest names a task's worker kind. */
const poolName = "kept-threads"

/**
 * The one thread this test-runner process keeps (Stryker runs one test
 * runner per process), the runs it served, whether the next run must have a
 * fresh one, whether it keeps its thread at all (its project is not
 * isolated), and whether it is clean: started by a run with no mutant
 * switched on (Stryker's dry run, or the same tests again: `warming`), so
 * that what its modules computed once and keep (a cache filled on first
 * use) was computed from the unmutated code. A thread started for a
 * mutant's run filled those with that mutant on: it serves that run only.
 */
const kept: { thread: ThreadsPoolWorker | undefined; runs: number; fresh: boolean; keeps: boolean; clean: boolean } = {
  thread: undefined,
  runs: 0,
  fresh: false,
  keeps: false,
  clean: false
}

/** Whether the run going on is one with no mutant switched on (a dry run): a thread it starts is clean. */
let warming = false

/** Ends the kept thread (if any): the next run starts a fresh one. */
const endThread = async (): Promise<void> => {
  const thread = kept.thread
  kept.thread = undefined
  kept.runs = 0
  await thread?.stop().catch(() => undefined)
}

/** The response a worker thread gives to `start` or `stop`, given here for a kept thread. */
const response = (type: "started" | "stopped") => ({ type, __vitest_worker_response__: true })

/**
 * One pool runner's view of the kept thread: vitest makes one per run (it
 * stops it when the run ends). Events it listens to are forwarded to the
 * thread and taken off again when it stops, so a long run does not pile up
 * listeners of finished runs.
 */
class KeptWorker implements PoolWorker {
  readonly name = poolName
  readonly #options: PoolOptions
  readonly #replies = new EventEmitter()
  readonly #listening: Array<[string, (...args: Array<any>) => void]> = []
  #thread: ThreadsPoolWorker | undefined
  #reused = false
  #stopAsked = false

  constructor(options: PoolOptions) {
    this.#options = options
  }

  /** Whether this project's runs may share a thread: only without per-file isolation. */
  get #keeps(): boolean {
    return keptRuns > 0 && this.#options.project.config.isolate === false
  }

  async start(): Promise<void> {
    if (kept.thread !== undefined && (kept.fresh || !this.#keeps || kept.runs >= keptRuns)) await endThread()
    kept.fresh = false
    kept.keeps = this.#keeps
    this.#reused = kept.thread !== undefined
    if (kept.thread === undefined) {
      const thread = new ThreadsPoolWorker(this.#options)
      await thread.start()
      // a thread that exits between runs (a crash) is not handed out again
      thread.on("exit", () => {
        if (kept.thread === thread) kept.thread = undefined
      })
      kept.thread = thread
      kept.clean = warming
    }
    this.#thread = kept.thread
  }

  on(event: string, callback: (...args: Array<any>) => void): void {
    if (event === "message") this.#replies.on(event, callback)
    this.#listening.push([event, callback])
    this.#current.on(event, callback)
  }

  off(event: string, callback: (...args: Array<any>) => void): void {
    if (event === "message") this.#replies.off(event, callback)
    const at = this.#listening.findIndex(([e, c]) => e === event && c === callback)
    if (at !== -1) this.#listening.splice(at, 1)
    this.#thread?.off(event, callback)
  }

  send(message: WorkerRequest): void {
    switch (message.type) {
      case "start": {
        if (this.#reused) {
          // the thread set up its environment when it first started; the pool runner waits for this answer
          setImmediate(() => this.#replies.emit("message", response("started")))
          return
        }
        // the thread keeps this config for every later run: a run's test name filter goes with the run (below)
        const config = { ...message.context.config, testNamePattern: undefined }
        return this.#current.send({ ...message, context: { ...message.context, config } })
      }
      case "run":
      case "collect": {
        kept.runs += 1
        // Stryker sets the filter on the project's config before each run; the thread reads a file's own filter first
        const testNamePattern = this.#options.project.config.testNamePattern
        const files = message.context.files.map((file) => ({ ...file, testNamePattern: file.testNamePattern ?? testNamePattern }))
        return this.#current.send({ ...message, context: { ...message.context, files } })
      }
      case "stop":
        // asked after the run's `testfileFinished`: the thread is idle and stays, its environment and modules with it
        this.#stopAsked = true
        setImmediate(() => this.#replies.emit("message", response("stopped")))
        return
      default:
        return this.#current.send(message)
    }
  }

  async stop(): Promise<void> {
    for (const [event, callback] of this.#listening.splice(0)) this.#thread?.off(event, callback)
    this.#replies.removeAllListeners()
    // a forced stop (cancelled or failed run) sends no `stop`: the thread may still be running tests
    if (!this.#stopAsked || !this.#keeps) kept.fresh = true
    this.#stopAsked = false
    if (kept.fresh && kept.thread === this.#thread) await endThread()
    this.#thread = undefined
  }

  deserialize(data: unknown): unknown {
    return data
  }

  /** Whether this run got a thread that had served an earlier run. */
  get reused(): boolean {
    return this.#reused
  }

  get #current(): ThreadsPoolWorker {
    if (this.#thread === undefined) throw new Error("mutation/keptWorker.ts: the kept worker was used before it started")
    return this.#thread
  }
}

/** The last worker vitest made: the runner asks it whether its run reused a thread. */
let lastWorker: KeptWorker | undefined

/** The pool given to vitest as the runner's `pool` option. */
const keptPool: PoolRunnerInitializer = {
  name: poolName,
  createPoolWorker: (options) => (lastWorker = new KeptWorker(options))
}

/** Whether a mutant's run may have left work going in the thread: a test stopped at vitest's bound, or an error outside the tests. */
const leavesWork = (result: MutantRunResult): boolean =>
  result.status === MutantRunStatus.Error ||
  result.status === MutantRunStatus.Timeout ||
  (result.status === MutantRunStatus.Killed && /timed out in \d+ms/.test(result.failureMessage))

/**
 * Stryker's vitest runner around the kept thread: it says when a run needs a
 * fresh one (see the module's comment), warms a fresh one with the dry run's
 * tests when the mutant's time allows, and runs a survivor its tests never
 * reached in a reused thread again in a fresh one.
 */
class KeptVitestRunner implements TestRunner {
  readonly #inner: TestRunner & { ctx?: Vitest }
  /** Stryker's dry run (its options and how long it took), run again to warm a fresh thread. */
  #dry: { options: DryRunOptions; millis: number } | undefined
  /** Whether a fresh thread is worth its warm-up, from the runs before. */
  readonly #policy = new WarmPolicy()

  constructor(inner: TestRunner & { ctx?: Vitest }) {
    this.#inner = inner
  }

  init(): Promise<void> {
    return this.#inner.init?.() ?? Promise.resolve()
  }

  capabilities(): TestRunnerCapabilities {
    return { reloadEnvironment: true }
  }

  async dryRun(options: DryRunOptions): Promise<DryRunResult> {
    const began = Date.now()
    const result = await this.#cleanRun(options)
    this.#dry = { options, millis: Date.now() - began }
    this.#policy.warmed()
    return result
  }

  async mutantRun(options: MutantRunOptions): Promise<MutantRunResult> {
    const began = Date.now()
    if (options.reloadEnvironment) kept.fresh = true
    else await this.#warm(options.timeout)
    const warmed = Date.now() - began
    const first = await this.#inner.mutantRun(options)
    const reused = lastWorker?.reused === true
    const hits = this.#hits()
    // a thread started for this run holds what its modules computed with this mutant on
    if (options.reloadEnvironment || leavesWork(first) || !kept.clean) kept.fresh = true
    let result = first
    if (first.status === MutantRunStatus.Survived && reused && hits === 0) {
      kept.fresh = true
      result = await this.#inner.mutantRun(options)
      kept.fresh = true
    }
    this.#policy.ran(reused, leavesWork(first) || leavesWork(result))
    if (runLog !== undefined) {
      const line = { mutant: options.activeMutant.id, reload: options.reloadEnvironment, warmed, reused, hits, first: first.status, status: result.status, millis: Date.now() - began }
      appendFileSync(runLog, `${JSON.stringify(line)}\n`)
    }
    return result
  }

  async dispose(): Promise<void> {
    await this.#inner.dispose?.()
    await endThread()
  }

  /** A run with no mutant switched on: a thread it starts is clean. */
  async #cleanRun(options: DryRunOptions): Promise<DryRunResult> {
    warming = true
    try {
      const result = await this.#inner.dryRun(options)
      if (result.status !== DryRunStatus.Complete) kept.clean = false
      return result
    } finally {
      warming = false
    }
  }

  /**
   * Before a mutant's run that would start a fresh thread in a project that
   * keeps it: starts it with the dry run's tests, no mutant on, so that it is
   * clean and serves the next runs too — when the mutant's timeout leaves
   * room for three dry runs (it counts this one) and the runs before make it
   * worth it (`WarmPolicy`); else the run gets an unclean thread of its own,
   * ended after it, as without keeping.
   */
  async #warm(timeout: number): Promise<void> {
    const needed = kept.fresh || kept.thread === undefined || kept.runs >= keptRuns
    if (!needed || !kept.keeps || this.#dry === undefined || timeout <= 3 * this.#dry.millis) return
    if (!this.#policy.warmsNext()) return
    kept.fresh = true
    await this.#cleanRun(this.#dry.options)
    this.#policy.warmed()
  }

  /** How often the last run reached its active mutant: the sum of Stryker's per-file hit counts (its setup file's `afterAll`). */
  #hits(): number {
    const files = this.#inner.ctx?.state.getFiles() ?? []
    return files.reduce((sum, file) => {
      const hits = (file.meta as { hitCount?: unknown }).hitCount
      return sum + (typeof hits === "number" ? hits : 0)
    }, 0)
  }
}

const vitestRunner = vitestPlugins.find((plugin) => plugin.name === "vitest")
if (vitestRunner === undefined || vitestRunner.kind !== PluginKind.TestRunner || !("factory" in vitestRunner)) {
  throw new Error("mutation/keptWorker.ts: @stryker-mutator/vitest-runner no longer declares its `vitest` test runner factory")
}
const vitestFactory = vitestRunner.factory

/** Makes Stryker's vitest runner with the kept pool as its `pool` option, and wraps it. */
const createKeptRunner = (injector: Injector<PluginContext>, options: StrykerOptions): TestRunner => {
  const inner = injector
    .provideValue(commonTokens.options, { ...options, vitest: { ...(options.vitest as object), pool: keptPool } })
    .injectFunction(vitestFactory) as TestRunner & { ctx?: Vitest }
  return new KeptVitestRunner(inner)
}
createKeptRunner.inject = tokens(commonTokens.injector, commonTokens.options)

/** The plugin Stryker loads (`plugins` in `stryker.config.mjs`): the `vitest-kept` test runner. */
export const strykerPlugins = [declareFactoryPlugin(PluginKind.TestRunner, "vitest-kept", createKeptRunner)]
