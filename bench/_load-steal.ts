/**
 * The host's share of the machine, for `bench/load.ts`: the processor time
 * the hypervisor gave to others while this virtual machine had work for it
 * (steal, the 8th value of `/proc/stat`'s `cpu` line), as a share of all
 * the machine's processor time over a stretch.
 *
 * Why: in session 21's end runs the host took up to 35% of the two
 * processors in waves, and the intervals inside the waves missed the status
 * goal while those between them met it (end 2: t = 120–260, no steal, status
 * p99 new 52–99 ms). A run that prints the steal beside each interval says by
 * itself how much of a bad interval was the host's and not the service's.
 */
import { readFileSync } from "node:fs"

/** The machine's processor time since boot, in clock ticks, summed over its processors. */
export interface MachineCpu {
  /** Every kind: user, nice, system, idle, iowait, irq, softirq, steal (guest time is counted in user and nice already). */
  readonly total: number
  /** Time the host ran something else while this machine was runnable. */
  readonly steal: number
}

/** The totals of `/proc/stat`'s first line, the `cpu` line (undefined on a system without one). */
const parseCpuLine = (stat: string): MachineCpu | undefined => {
  const line = stat.split("\n", 1)[0]
  if (!line.startsWith("cpu ")) return undefined
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.slice(4).trim().split(/\s+/).map(Number)
  const parts = [user, nice, system, idle, iowait, irq, softirq, steal ?? 0]
  return parts.every(Number.isFinite)
    ? { total: parts.reduce((sum, ticks) => sum + ticks, 0), steal: steal ?? 0 }
    : undefined
}

/** The machine's processor time now (undefined where `/proc/stat` cannot be read). */
export const machineCpu = (): MachineCpu | undefined => {
  try {
    return parseCpuLine(readFileSync("/proc/stat", "utf8"))
  } catch {
    return undefined
  }
}

/** The host's steal between two readings, in percent of the machine's processor time then (NaN where either is missing). */
export const stealPercent = (from: MachineCpu | undefined, to: MachineCpu | undefined): number =>
  from === undefined || to === undefined || to.total <= from.total
    ? Number.NaN
    : (100 * (to.steal - from.steal)) / (to.total - from.total)
