/**
 * Memory handed back once the service goes quiet.
 *
 * Under load V8 lets the old generation fill to several times its live
 * objects before a full collection, and keeps every page a collection frees
 * in a pool for reuse, resident, outside the heap it reports (`heapTotal`;
 * `--trace-gc` prints the pool as `pooled: N MB`). Its memory reducer gives
 * both back — a collection that shrinks the heap and empties the pool — once
 * the program looks idle, judging by the allocation rate it measured at its
 * last collections. A service that goes quiet after a burst makes no more
 * collections, so that measure stays the burst's: V8 reads "high alloc"
 * every 8 s for as long as the service is idle, and collects only when its
 * watchdog fires, 100 s after the last full collection (measured on Node
 * 24: a service left at 708 MB a minute after the full load mix, against 575
 * at the end of warm-up).
 *
 * `layer` watches the service's event loop instead: when it has been busy
 * less than `busyBelow` of the time for `quietMillis` and the resident set
 * has grown by more than `growth` since the last such collection (or since
 * the start), it asks V8 for the collection its memory reducer would have
 * made (`gc({ flavor: "last-resort" })`: full collections that reduce the
 * heap and release the page pool). The collection stops the loop for a few
 * hundred milliseconds, which an idle loop has to spare; the growth
 * threshold keeps a quiet service with a steady heap from collecting again
 * and again. `CHAINJOBS_IDLE_COLLECT_SECONDS` sets the quiet time (0: off).
 *
 * The collector is V8's `gc` function, exposed for this module alone:
 * `--expose-gc` is set, a fresh context's `gc` taken, and the flag cleared
 * again, so the service's own global and later contexts do not get one.
 *
 * @since 0.1.0
 */
import { Config, Duration, Effect, Layer, Metric, Schedule, Schema } from "effect"
import type { Scope } from "effect"
import { performance } from "node:perf_hooks"
import * as V8 from "node:v8"
import * as Vm from "node:vm"

/** When the service counts as idle, and when an idle service collects. */
export interface Settings {
  /** How long the loop must stay quiet before a collection (ms); 0 turns collecting off. Default 10 s. */
  readonly quietMillis: number
  /** How often the loop's use is sampled (ms); a quiet time is a whole number of samples. Default 5 s. */
  readonly sampleMillis: number
  /** The loop is quiet while busy less than this share of a sample's time (0 to 1). Default 0.05. */
  readonly busyBelow: number
  /** A collection is due only once the resident set is this share above its level after the last one (or at the start). Default 0.25. */
  readonly growth: number
}

/** The settings `layer` uses unless told otherwise. */
export const defaults: Settings = { quietMillis: 10_000, sampleMillis: 5_000, busyBelow: 0.05, growth: 0.25 }

/** The quiet time from `CHAINJOBS_IDLE_COLLECT_SECONDS`: a number of seconds of at least 0 (0: never collect). */
export const quietConfig: Config.Config<number> = Config.schema(
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  "CHAINJOBS_IDLE_COLLECT_SECONDS"
).pipe(Config.withDefault(defaults.quietMillis / 1000))

/** What `step` carries from one sample to the next. */
export interface State {
  /** Samples in a row the loop was quiet in. */
  readonly quietSamples: number
  /** The resident set after the last collection, or at the start (bytes). */
  readonly floor: number
}

/** One sample: the loop's busy share since the previous one, and the resident set now (bytes). */
export interface Sample {
  readonly utilization: number
  readonly rss: number
}

/** The state at the start, with the resident set then (bytes). */
export const initial = (rss: number): State => ({ quietSamples: 0, floor: rss })

/**
 * The next state after `sample`, and whether to collect now: after
 * `quietMillis` of quiet samples, and only with the resident set more than
 * `growth` above the floor. A busy sample starts the quiet time over; a
 * collection does too, its floor set by `collected`.
 */
export const step = (settings: Settings, state: State, sample: Sample): { readonly state: State; readonly collect: boolean } => {
  const quietSamples = sample.utilization < settings.busyBelow ? state.quietSamples + 1 : 0
  const quietEnough = settings.quietMillis > 0 && quietSamples * settings.sampleMillis >= settings.quietMillis
  const collect = quietEnough && sample.rss > state.floor * (1 + settings.growth)
  return { state: { quietSamples: collect ? 0 : quietSamples, floor: state.floor }, collect }
}

/** The state after a collection that left the resident set at `rss` (bytes): the new floor. */
export const collected = (state: State, rss: number): State => ({ ...state, floor: rss })

/** Collections made by an idle service, and the resident memory they gave back. */
export const collections = Metric.counter("chainjobs_idle_collections_total", {
  description: "Full collections made once the service went quiet (memory handed back to the system)",
  incremental: true
})

/** V8's `gc` function, taken from a fresh context with `--expose-gc` set for that moment only. */
const collector = (): NodeJS.GCFunction => {
  V8.setFlagsFromString("--expose-gc")
  try {
    return Vm.runInNewContext("gc")
  } finally {
    V8.setFlagsFromString("--no-expose-gc")
  }
}

/**
 * Samples the event loop every `sampleMillis` for as long as the scope
 * lasts and collects as `step` decides; does nothing when `quietMillis` is 0.
 */
export const run = (settings: Settings): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (settings.quietMillis <= 0) return
    const gc = collector()
    let state = initial(process.memoryUsage.rss())
    let last = performance.eventLoopUtilization()
    const sample = Effect.gen(function*() {
      const now = performance.eventLoopUtilization()
      const busy = performance.eventLoopUtilization(now, last)
      last = now
      // One read of the resident set per sample: `step` judges it, and a collection's log reports it as the level before.
      const before = process.memoryUsage.rss()
      const next = step(settings, state, { utilization: busy.utilization, rss: before })
      state = next.state
      if (!next.collect) return
      gc({ type: "major", flavor: "last-resort" })
      const after = process.memoryUsage.rss()
      // The loop's time spent collecting is not the service's work: the next sample starts after it.
      last = performance.eventLoopUtilization()
      state = collected(state, after)
      yield* Metric.update(collections, 1)
      yield* Effect.logDebug("idle: memory handed back", { rssBeforeMB: before / 2 ** 20, rssAfterMB: after / 2 ** 20 })
    })
    yield* Effect.forkScoped(Effect.repeat(sample, Schedule.spaced(Duration.millis(settings.sampleMillis))))
  })

/** `run` for the service, its quiet time from `CHAINJOBS_IDLE_COLLECT_SECONDS` (the other settings `defaults`'). */
export const layer: Layer.Layer<never, Config.ConfigError> = Layer.effectDiscard(
  Effect.flatMap(quietConfig, (seconds) => run({ ...defaults, quietMillis: seconds * 1000 }))
)
