/**
 * A control for the CPU times a benchmark reads on a shared machine: a fixed
 * piece of JavaScript work (objects made, written as JSON and read back;
 * about 6 ms of CPU on a quiet core here), timed by this thread's CPU clock.
 * The work never changes, so its CPU time should not either: when it takes
 * more while a burst runs than while the machine is idle, every process's
 * CPU time is inflated by as much meanwhile (both cores busy: shared caches
 * and memory, preemptions that cool the caches, the host's clock), the
 * runners' and PostgreSQL's included. A figure measured with one runner
 * (one core busy) against one with three (both cores busy) then compares the
 * machine as much as the code; this says by how much.
 *
 * It runs in the benchmark's own process, every `every` while the effect it
 * goes beside runs: about 3% of a core, taken from what is measured.
 */
import { type Duration, Effect, Fiber } from "effect"

/** How many objects one run of the work makes: about 6 ms of CPU on a quiet core of this machine. */
const OBJECTS = 8000

/** The fixed work: objects made, written as JSON and read back (what a runner does most, in small). */
const work = () => {
  const made: Array<{ readonly i: number; readonly s: string; readonly n: ReadonlyArray<number> }> = []
  for (let i = 0; i < OBJECTS; i++) made.push({ i, s: `x${i}`, n: [i, i * 2] })
  return (JSON.parse(JSON.stringify(made)) as ReadonlyArray<unknown>).length
}

/** The CPU time of one run of the work on this thread, µs (no other JavaScript runs meanwhile: it is synchronous). */
const sample = (): number => {
  const before = process.threadCpuUsage()
  work()
  const spent = process.threadCpuUsage(before)
  return spent.user + spent.system
}

/** The median of `values`, or NaN for none. */
const median = (values: Array<number>) => {
  if (values.length === 0) return Number.NaN
  values.sort((a, b) => a - b)
  return values[Math.floor(values.length / 2)]!
}

/** The control's runs beside one measurement: the median CPU time of one run (µs) and how many runs it took. */
export interface Control {
  readonly micros: number
  readonly runs: number
}

/**
 * Runs `effect` with the control's work done every `every` beside it (the median of the runs is the figure: the
 * kernel's CPU clock is coarse, a few milliseconds, and a run the scheduler interrupted costs more), and returns
 * both.
 */
export const beside = <A, E, R>(effect: Effect.Effect<A, E, R>, every: Duration.Input = "200 millis") =>
  Effect.gen(function*() {
    const runs: Array<number> = []
    const control = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.sleep(every), Effect.sync(() => void runs.push(sample())))))
    const result = yield* Effect.ensuring(effect, Fiber.interrupt(control))
    return [result, { micros: median(runs), runs: runs.length }] as const
  })

/** A control's figure beside its baseline, as printed: `6,100 µs (1.25× idle)`. */
export const text = (busy: Control, idle: Control) =>
  `${Math.round(busy.micros).toLocaleString("en")} µs (${(busy.micros / idle.micros).toFixed(2)}× idle)`
