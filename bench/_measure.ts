/** Helpers shared by the benchmarks: timing, repetition and heap readings. */

/** Runs `body` `runs` times and returns the median of the rates it reports. */
export const medianRate = async (runs: number, body: () => Promise<number>): Promise<number> => {
  const rates: Array<number> = []
  for (let i = 0; i < runs; i++) rates.push(await body())
  rates.sort((a, b) => a - b)
  return rates[Math.floor(rates.length / 2)]
}

/** Operations per second for `count` operations done in `millis`. */
export const perSecond = (count: number, millis: number): number => (count * 1000) / millis

/** Forces a full collection (needs `--expose-gc`) and returns the bytes in use on the heap. */
export const heapUsed = (): number => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) {
    gc()
    gc()
  }
  return process.memoryUsage().heapUsed
}

/** Median, 99th percentile and count of a set of milliseconds. */
export interface Quantiles {
  readonly n: number
  readonly p50: number
  readonly p99: number
}

/** The median and 99th percentile of `values` (sorted in place). */
export const quantiles = (values: Array<number>): Quantiles => {
  if (values.length === 0) return { n: 0, p50: 0, p99: 0 }
  values.sort((a, b) => a - b)
  const at = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))]
  return { n: values.length, p50: at(0.5), p99: at(0.99) }
}

/** Formats a number with thousands separators. */
export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** Prints aligned rows of a small table. */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>): void => {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)))
  for (const row of rows) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "))
}

/** Throughput, acknowledgement latency percentiles and processor time of a run. */
export interface LatencyFigures {
  readonly perSecond: number
  readonly ackP50: number
  readonly ackP99: number
  /** Milliseconds of processor time (user and system) of this process per 1,000 operations, when measured. */
  readonly cpuPerThousand?: number | undefined
}

/**
 * The figures of `count` operations done in `millis`, from each one's
 * acknowledgement latency (sorted here) and, if given, the processor time
 * the run took (`process.cpuUsage(before)`).
 */
export const latencyFigures = (
  latencies: Array<number>,
  count: number,
  millis: number,
  cpu?: NodeJS.CpuUsage
): LatencyFigures => {
  latencies.sort((a, b) => a - b)
  return {
    perSecond: perSecond(count, millis),
    ackP50: latencies[Math.floor(latencies.length * 0.5)],
    ackP99: latencies[Math.floor(latencies.length * 0.99)],
    cpuPerThousand: cpu === undefined ? undefined : (cpu.user + cpu.system) / count
  }
}
