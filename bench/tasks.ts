/**
 * The core runtime against bare fibers (issue 13):
 * - throughput: no-op tasks submitted and completed through `Tasks` (memory
 *   store, every state change written) next to `Effect.forkChild` +
 *   `Fiber.join` of the same count doing the same work; once with no global
 *   limit (like the bare fibers) and once with the default limit of 100
 *   running tasks. Two handler styles, each against bare fibers running the
 *   same body: one done when called (`Effect.void`, an `Exit`: the supervisor
 *   ends it with no fiber) against `Effect.sync`, and an `Effect.gen` handler
 *   (what users write: it runs in a task fiber) against the same `Effect.gen`
 *   body forked bare;
 * - memory: heap and RSS for 100k concurrent idle tasks next to 100k idle
 *   bare fibers, each in a fresh process.
 *
 * Method. Each run lives in a child process of its own (`_tasks-runs.ts`;
 * `--together` puts all six in one, as the bench did before): bare fibers'
 * speed depends on their call sites' JIT state, which Tasks' code in the
 * same process changes, and so does a shared heap. Every run is first
 * warmed to its steady state: rounds until its last three agree within
 * `TOLERANCE` of their median by CPU time (at most `WARMUP_CAP` rounds;
 * a run that never settles is named). Then `ROUNDS` rounds in which every
 * run does one round in turn, the order reversed every other round, so a
 * load that comes and goes on a shared machine falls on all of them; each
 * round starts after a full collection. A row's ratio is the median of the
 * rounds' own ratios to its style's bare fibers, by wall clock and by its
 * process's CPU time (user and system, steadier while other work shares the
 * cores), with their lowest and highest.
 *
 * The goal's figure (≥ 0.35×) is the `Tasks.submit + await, maxWorkers =
 * count` row's wall-clock ratio on a quiet machine, the lower of the two
 * modes' (apart, bare fibers have not been the faster: see the tasks
 * package's README).
 */
import { fork, type ChildProcess } from "node:child_process"
import { loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { COUNT, type Footprint, type Rates, type Request, type Run } from "./_tasks-runs.ts"
import { fmt, table } from "./_measure.ts"

const ROUNDS = 9
const WARMUP_CAP = 15
const TOLERANCE = 0.1

const together = process.argv.includes("--together")
const names: ReadonlyArray<Run> = ["bare", "supervised", "queued", "bareGen", "supervisedGen", "queuedGen"]
const workerFile = fileURLToPath(new URL("./_tasks-runs.ts", import.meta.url))

/** A child process running this bench's runs, answering one request at a time. */
interface Worker {
  readonly ask: <A>(request: Request) => Promise<A>
  readonly kill: () => void
}

const spawnWorker = (): Worker => {
  const child: ChildProcess = fork(workerFile, [], { execArgv: ["--expose-gc"], stdio: "inherit" })
  let waiting: { resolve: (answer: unknown) => void; reject: (error: Error) => void } | undefined
  child.on("message", (answer) => waiting?.resolve(answer))
  child.on("exit", (code) => waiting?.reject(new Error(`bench worker exited (${code})`)))
  return {
    ask: <A>(request: Request) =>
      new Promise<A>((resolve, reject) => {
        waiting = { resolve: (answer) => resolve(answer as A), reject }
        child.send(request)
      }),
    kill: () => child.kill()
  }
}

const median = (values: ReadonlyArray<number>): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** Whether the last three of `rates` agree within `TOLERANCE` of their median, by CPU time. */
const steady = (rates: ReadonlyArray<Rates>): boolean => {
  if (rates.length < 3) return false
  const last = rates.slice(-3).map((r) => r.cpu)
  const mid = median(last)
  return last.every((rate) => Math.abs(rate - mid) <= TOLERANCE * mid)
}

const load = () => loadavg()[0].toFixed(1)

const memory = async (what: "tasks" | "fibers"): Promise<Footprint> => {
  const worker = spawnWorker()
  try {
    return await worker.ask<Footprint>({ memory: what })
  } finally {
    worker.kill()
  }
}

const main = async () => {
  const shared = together ? spawnWorker() : undefined
  const workers = Object.fromEntries(names.map((name) => [name, shared ?? spawnWorker()])) as Record<Run, Worker>
  const round = (name: Run) => workers[name].ask<Rates>({ run: name })
  const loadBefore = load()
  try {
    // warm-up: every run not yet steady does a round, in turn, until all are
    const warmup = Object.fromEntries(names.map((name) => [name, [] as Array<Rates>])) as Record<Run, Array<Rates>>
    for (let n = 0; n < WARMUP_CAP && names.some((name) => !steady(warmup[name])); n++) {
      for (const name of names) if (!steady(warmup[name])) warmup[name].push(await round(name))
    }
    const unsettled = names.filter((name) => !steady(warmup[name]))
    const rates = Object.fromEntries(names.map((name) => [name, [] as Array<Rates>])) as Record<Run, Array<Rates>>
    for (let n = 0; n < ROUNDS; n++) {
      for (const name of n % 2 === 0 ? names : [...names].reverse()) rates[name].push(await round(name))
    }
    /** A row: the median rates, and the median (lowest–highest) of the rounds' ratios to `baseline`. */
    const row = (label: string, run: Run, baseline: Run) => {
      const ratio = (by: keyof Rates) => {
        const ratios = rates[run].map((r, n) => r[by] / rates[baseline][n][by])
        return `${fmt(median(ratios), 2)} (${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)})`
      }
      return [
        label,
        fmt(median(rates[run].map((r) => r.wall))),
        fmt(median(rates[run].map((r) => r.cpu))),
        ratio("wall"),
        ratio("cpu"),
        String(warmup[run].length)
      ]
    }
    console.log(
      `throughput: ${fmt(COUNT)} no-op tasks, ${together ? "all runs in one process" : "each run in a process of its own"}, ` +
        `warmed until the last 3 rounds agree within ${TOLERANCE * 100}% by CPU (at most ${WARMUP_CAP}), then ${ROUNDS} rounds ` +
        `side by side, medians (node ${process.version}, load average ${loadBefore} → ${load()})`
    )
    table([
      ["", "per second", "per CPU second", "ratio (range)", "CPU ratio (range)", "warm-up rounds"],
      row("bare Effect.forkChild(Effect.sync) + join", "bare", "bare"),
      row("Tasks.submit + await, maxWorkers = count", "supervised", "bare"),
      row("Tasks.submit + await, maxWorkers = 100 (default)", "queued", "bare"),
      row("bare Effect.forkChild(Effect.gen) + join", "bareGen", "bareGen"),
      row("Effect.gen handler, maxWorkers = count", "supervisedGen", "bareGen"),
      row("Effect.gen handler, maxWorkers = 100 (default)", "queuedGen", "bareGen")
    ])
    if (unsettled.length > 0) console.log(`not steady after ${WARMUP_CAP} warm-up rounds: ${unsettled.join(", ")}`)
    console.log(
      `Effect.gen handler against bare Effect.sync fibers (CPU): ` +
        `${fmt(median(rates.supervisedGen.map((r, n) => r.cpu / rates.bare[n].cpu)), 2)} / ` +
        `${fmt(median(rates.queuedGen.map((r, n) => r.cpu / rates.bare[n].cpu)), 2)}`
    )
  } finally {
    for (const worker of new Set(Object.values(workers))) worker.kill()
  }
  const fibers = await memory("fibers")
  const tasks = await memory("tasks")
  console.log(`\nmemory: ${fmt(COUNT)} concurrent idle tasks, each kind in a fresh process (load average ${load()})`)
  table([
    ["", "heap bytes each", "RSS bytes each"],
    ["bare idle fibers (forkDetach)", fmt(fibers.heap), fmt(fibers.rss)],
    ["idle supervised tasks", fmt(tasks.heap), fmt(tasks.rss)]
  ])
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
