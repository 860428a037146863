/**
 * Who took the machine's processors over a load run, for `bench/load.ts`:
 * every thread of the bench's process tree (the bench itself, the service,
 * the generator, its client processes, the probe, the accept-queue sampler),
 * its time on a processor and its time runnable but waiting for one
 * (`/proc/<pid>/task/<tid>/schedstat`), read at the load's start and end
 * without asking any of them.
 *
 * Why: the service shares two cores with its clients and with the bench's
 * own measuring. Its main thread waits for a processor a third of its
 * runnable time even on a quiet machine, and which of the others holds the
 * cores meanwhile — a client process, the service's own helper threads
 * (V8's, the SQLite worker, libuv's pool), or the measuring — decides what
 * can be done about it (an `ss` process every 100 ms took a fifth of a core
 * until the accept queue was sampled over one netlink socket).
 */
import { readdirSync, readFileSync } from "node:fs"

/** A thread's totals since it started, with the group it is counted in. */
export interface ThreadTimes {
  /** The process's part (`service`, `bench`, a client part's name, …) and the thread's name (`main` for the process's own). */
  readonly group: string
  /** Time on a processor (ms). */
  readonly runMs: number
  /** Time runnable, waiting in a run queue (ms). */
  readonly waitMs: number
}

/** A file's text, or undefined once its process or thread is gone. */
const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

/** The pids of `root` and every process descended from it now. */
const tree = (root: number): Array<number> => {
  const children = new Map<number, Array<number>>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const stat = read(`/proc/${entry}/stat`)
    if (stat === undefined) continue
    // The fields after the command's closing parenthesis: state, then the parent's pid.
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    const siblings = children.get(parent) ?? []
    siblings.push(Number(entry))
    children.set(parent, siblings)
  }
  const found: Array<number> = []
  const stack = [root]
  while (stack.length > 0) {
    const pid = stack.pop()!
    found.push(pid)
    stack.push(...(children.get(pid) ?? []))
  }
  return found
}

/** The part a process of the tree plays, from its command line. */
const partOf = (pid: number, command: string, servicePid: number): string => {
  if (pid === servicePid) return "service"
  if (pid === process.pid) return "bench"
  const client = /_load-clients\.ts\s+(\S+)/.exec(command)
  if (client !== null) return client[1]
  if (command.includes("_load-probe")) return "probe"
  if (command.includes("_load-generator")) return "generator"
  if (command.includes("_load-acceptq")) return "accept-queue sampler"
  return command.split(" ")[0].split("/").pop() ?? "?"
}

/**
 * Every thread of this process's tree now, by thread id (`servicePid` names
 * the service). Threads of one name in a process (V8's four workers) share
 * a group, their number dropped from the name. A process that has exited is
 * left out: keep an earlier reading of its threads to count them.
 */
export const treeThreads = (servicePid: number): ReadonlyMap<number, ThreadTimes> => {
  const threads = new Map<number, ThreadTimes>()
  for (const pid of tree(process.pid)) {
    const command = read(`/proc/${pid}/cmdline`)?.replaceAll("\0", " ").trim()
    // Gone, or exited and not yet reaped (a zombie's command line is empty): its last reading stands.
    if (command === undefined || command === "") continue
    const part = partOf(pid, command, servicePid)
    let tids: Array<string>
    try {
      tids = readdirSync(`/proc/${pid}/task`)
    } catch {
      continue
    }
    for (const tid of tids) {
      const schedstat = read(`/proc/${pid}/task/${tid}/schedstat`)
      const comm = read(`/proc/${pid}/task/${tid}/comm`)
      if (schedstat === undefined || comm === undefined) continue
      const [run, wait] = schedstat.split(" ").map(Number)
      const name = Number(tid) === pid ? "main" : comm.trim().replace(/\d+$/, "")
      threads.set(Number(tid), { group: `${part} ${name}`, runMs: run / 1e6, waitMs: wait / 1e6 })
    }
  }
  return threads
}

/**
 * Each group's time on a processor and waiting between two readings (a
 * thread started between them counts from 0; one gone by the second is
 * left out), the largest first.
 */
export const groupDelta = (
  from: ReadonlyMap<number, ThreadTimes>,
  to: ReadonlyMap<number, ThreadTimes>
): Array<ThreadTimes> => {
  const groups = new Map<string, { runMs: number; waitMs: number }>()
  for (const [tid, now] of to) {
    const before = from.get(tid)
    const sum = groups.get(now.group) ?? { runMs: 0, waitMs: 0 }
    sum.runMs += now.runMs - (before?.runMs ?? 0)
    sum.waitMs += now.waitMs - (before?.waitMs ?? 0)
    groups.set(now.group, sum)
  }
  return [...groups].map(([group, sum]) => ({ group, ...sum })).sort((a, b) => b.runMs - a.runMs)
}
