/**
 * What ran while the service's event loop stalled, for `bench/load.ts`.
 *
 * The service (its preload, `_load-trace.ts`) keeps a 10-ms timer: one that
 * fires more than `stallMillis` late marks a stall — a turn, or turns, of
 * the loop that long, during which no connection was accepted and no
 * request read. Each stall is listed with the garbage collection inside it
 * (V8's `gc` performance entries overlapping it: all kinds, and the major
 * ones, mark-compact). `summarize` totals them over the run; with a CPU
 * profile of the service (`--profile=DIR`), `stalledFunctions` names the
 * functions whose own time fills the stalls, beside the whole run's.
 */
import { basename } from "node:path"

/** One stall of the service's loop: from the timer's last run to its late one (ms on `performance.now()`'s clock). */
export interface Stall {
  readonly start: number
  readonly end: number
  /** The garbage collection inside it (ms), every kind. */
  readonly gcMs: number
  /** Of which major (mark-compact) collection (ms). */
  readonly majorGcMs: number
}

/** A time of a V8 `gc` performance entry (ms on `performance.now()`'s clock) and its kind. */
export interface Collection {
  readonly start: number
  readonly duration: number
  readonly major: boolean
}

/** The part of [start, end) the collections cover, all kinds and major only (ms). */
export const collectedIn = (start: number, end: number, collections: ReadonlyArray<Collection>) => {
  let all = 0
  let major = 0
  for (const gc of collections) {
    const overlap = Math.min(end, gc.start + gc.duration) - Math.max(start, gc.start)
    if (overlap <= 0) continue
    all += overlap
    if (gc.major) major += overlap
  }
  return { all, major }
}

/** Stalls totalled: how many, their time (ms), the GC inside them (ms, and major), and the longest (ms). */
export interface StallTotals {
  readonly count: number
  readonly ms: number
  readonly gcMs: number
  readonly majorGcMs: number
  readonly longest: number
}

/** The totals of `stalls`. */
export const summarize = (stalls: ReadonlyArray<Stall>): StallTotals => ({
  count: stalls.length,
  ms: stalls.reduce((s, x) => s + (x.end - x.start), 0),
  gcMs: stalls.reduce((s, x) => s + x.gcMs, 0),
  majorGcMs: stalls.reduce((s, x) => s + x.majorGcMs, 0),
  longest: stalls.reduce((m, x) => Math.max(m, x.end - x.start), 0)
})

/** The parts of a V8 CPU profile (`.cpuprofile`) read here. */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  }>
  /** µs on the monotonic clock (`process.hrtime`'s). */
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** A function's share of a set of samples (percent), by its own time. */
export interface Share {
  readonly name: string
  readonly percent: number
}

/**
 * The `top` functions by own time in the samples inside `windows` (µs on
 * the profile's monotonic clock, sorted by start), and in the whole profile:
 * a function is named `name file:line`; V8's own nodes keep their names
 * (`(garbage collector)`, `(program)`, `(idle)`).
 */
export const stalledFunctions = (
  profile: CpuProfile,
  windows: ReadonlyArray<readonly [start: number, end: number]>,
  top = 8
): { readonly stalled: ReadonlyArray<Share>; readonly stalledSamples: number; readonly all: ReadonlyArray<Share>; readonly allSamples: number } => {
  const names = new Map<number, string>()
  for (const node of profile.nodes) {
    const frame = node.callFrame
    const name = frame.functionName === "" ? "(anonymous)" : frame.functionName
    names.set(node.id, frame.url === "" ? name : `${name} ${basename(frame.url)}:${frame.lineNumber + 1}`)
  }
  const stalled = new Map<string, number>()
  const all = new Map<string, number>()
  let stalledSamples = 0
  let at = profile.startTime
  let w = 0
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0
    const name = names.get(profile.samples[i]) ?? "?"
    all.set(name, (all.get(name) ?? 0) + 1)
    // Samples come in time order: the windows ended before this one are done with.
    while (w < windows.length && windows[w][1] < at) w++
    if (w < windows.length && windows[w][0] <= at) {
      stalled.set(name, (stalled.get(name) ?? 0) + 1)
      stalledSamples++
    }
  }
  const topOf = (counts: Map<string, number>, total: number): Array<Share> =>
    [...counts].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, n]) => ({ name, percent: (100 * n) / Math.max(1, total) }))
  return { stalled: topOf(stalled, stalledSamples), stalledSamples, all: topOf(all, profile.samples.length), allSamples: profile.samples.length }
}
