/**
 * The processor time a PostgreSQL server on this machine spends for one
 * database: the user and system time of the backends serving it, read from
 * `/proc/<pid>/stat` (Linux) when a run starts and when it ends. A
 * backend's line in `/proc/<pid>/cmdline` names its database
 * (`postgres: <user> <database> <client> <state>`), so other databases'
 * backends and the server's own processes (WAL writer, checkpointer) are
 * left out. A backend that connects during the run counts from zero; one
 * that disconnects before it ends is missed, so the run must end with its
 * pools still open. Two readings only: sampling during the run would add
 * its own processor time to the process measured beside it.
 */
import { readdirSync, readFileSync } from "node:fs"

/** Clock ticks per second of `/proc/<pid>/stat`'s times (`getconf CLK_TCK`, 100 on Linux). */
const ticksPerSecond = 100

/** A backend's user + system time in milliseconds, or undefined once it is gone. */
const cpuMillis = (pid: string): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name (which may hold spaces), from field 3 on: utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond
  } catch {
    return undefined
  }
}

/** The pids of the backends serving `database`. */
const backendsOf = (database: string): Array<string> => {
  const found: Array<string> = []
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue
    let command: string
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, "utf8")
    } catch {
      continue
    }
    if (command.startsWith("postgres: ") && command.split(" ")[2] === database) found.push(pid)
  }
  return found
}

/** Each backend of `database` with its user + system time in milliseconds. */
const reading = (database: string): Map<string, number> => {
  const times = new Map<string, number>()
  for (const pid of backendsOf(database)) {
    const cpu = cpuMillis(pid)
    if (cpu !== undefined) times.set(pid, cpu)
  }
  return times
}

/**
 * Starts measuring the server time spent for `database`; the function it
 * returns ends the measurement with the milliseconds spent since. Undefined
 * where `/proc` cannot tell (not Linux, or no backend of it is readable).
 */
export const measureServerCpu = (database: string): (() => number) | undefined => {
  let start: Map<string, number>
  try {
    start = reading(database)
  } catch {
    return undefined
  }
  if (start.size === 0) return undefined
  return () => {
    let total = 0
    for (const [pid, cpu] of reading(database)) total += cpu - (start.get(pid) ?? 0)
    return total
  }
}
