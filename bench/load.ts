/**
 * `npm run bench -- load`: the service under a mix of submissions and
 * watchers, each side in a process of its own — the service
 * (`chainjobs serve`, SQLite, `--max-workers 300`) and the load generator
 * (`_load-generator.ts`), which splits the clients over processes of their
 * own (`_load-clients.ts`: submitters, `--sse-procs=` processes of task
 * event-stream watchers, `/api/events` readers, WebSocket watchers) and
 * starts the status probe (`_load-probe.ts`). Whose time a figure is: each
 * process reports its own longest event-loop delay beside its samples; one
 * that stalled longer than `--stall-ms=` (default 50) in an interval is
 * named, and each status and lag figure is given as measured and `steady`
 * (without the stalled processes' samples: the service's time).
 * Prints, per interval and at the end: submissions
 * acknowledged vs sent, errors by kind, status-read latency p50/p99 on new and
 * open connections — as the busy generator times it and as the probe, a
 * process doing nothing else, does, with a new connection's connect and
 * first-byte phases and both clients' longest event-loop delay, so that a
 * slow read is placed in the kernel's accept queue, the service, or the
 * client; the service times the probe's new-connection reads itself
 * (`_load-trace.ts`: accept to request parsed, request to response written),
 * so that what is left of the probe's first byte is the wait before the
 * service accepted the connection — delivery lag p50/p99 per stream kind, the service's RSS
 * and heap, and the RSS slope after warm-up; then, with every client gone,
 * whether RSS comes back within 20% of its warm-up level. The service's CPU
 * use (of one core) is shown per interval, and its main thread's time on a
 * processor and waiting in a run queue for one, with its preemptions
 * (`_load-sched.ts`: a late read of a starved service is not its work), and
 * the host's steal of the machine's processor time (`_load-steal.ts`: an
 * interval inside a wave of it measures the host), and over the load every
 * process and thread of the run — the bench's own, the service's, the
 * clients' — with its time on a processor and waiting for one
 * (`_load-threads.ts`: who holds the cores the service waits for), so mixes can be compared: e.g.
 * `--sse-task=200 --ws-watch=0` against `--sse-task=0 --ws-watch=200`.
 *
 * The default mix is a short one (60 s). `--full` (or `LOAD_MIX=full`) runs
 * the mix of issue 17: 200 one-second tasks per second for 5 minutes, 790
 * single-task event streams (a new connection per task), 10 readers of
 * `/api/events`, 190 WebSocket `Watch` and 10 `WatchChanges` (`WatchAll` resuming by id) clients, then a
 * minute of rest. Status reads are made 20 times a second on new and as many
 * on open connections (`--status-rate=`; 5 before session 27): an interval's
 * p99 of 50 reads was their maximum — one slow read in 50 missed it, and in
 * the median it stood for the reads' p98.6, with a wide spread; of 200 reads
 * it is the second slowest, standing for their p99.2 in the median, with
 * less spread: stricter, and less at the mercy of one read. The run counts
 * the intervals met both ways — the second over every fourth read of the
 * same run, what a sampler of 5 a second would have seen. The probe keeps 5
 * (`--probe-rate=`). Every figure is settable: `--duration=`, `--rate=`,
 * `--task-ms=`, `--status-rate=`, `--probe-rate=`, `--sse-task=`, `--sse-all=`, `--ws-watch=`,
 * `--ws-all=`, `--interval=`, `--warmup=`, `--cooldown=`, `--semi-space=` (the
 * service's `--max-semi-space-size` in MB; 0, the default, leaves V8's own as
 * `npm start` does), `--turn-budget=` (the service's `CHAINJOBS_TURN_BUDGET_MS`:
 * fiber work per turn of its event loop, ms; 0 for Effect's own scheduler;
 * unset, the service's default), `--open-budget=` (the service's
 * `CHAINJOBS_OPEN_BUDGET_MS`: the time a poll phase of its loop spends
 * opening event streams inline before the rest wait for a turn, ms; 0 for
 * every one inline; unset, the service's default), `--malloc-arena-max=` (the service's
 * `MALLOC_ARENA_MAX`: glibc's limit on its C heaps' arenas, a probe of the
 * allocator's share of the RSS; unset, glibc's own), `--glibc-tunables=`
 * (the service's `GLIBC_TUNABLES`, e.g. a fixed `glibc.malloc.mmap_threshold`),
 * `--allocator=jemalloc`
 * (the service's C heap from jemalloc, `LD_PRELOAD`ed, in place of glibc's:
 * a C heap that grows under glibc and not under jemalloc is the allocator's
 * fragmentation, one that grows under both is native objects kept; its
 * mappings count as other anonymous memory), `--acceptors=` (the
 * service's `CHAINJOBS_ACCEPTORS`: listening sockets sharing its port, so
 * new connections accepted per turn of its event loop; 1 for Node's single
 * socket; unset, the service's default), `--node-flags=` (more Node/V8 flags
 * for the service only, space-separated, e.g. `--node-flags="--single-threaded-gc"`:
 * an A/B of how many threads it runs on the shared cores), `--sse-client=` (`net`, the
 * default: the generator reads event streams over bare sockets,
 * `_load-sse.ts`; `http`: over `node:http`, to compare the generator's own
 * CPU), `--ws-client=` (`net`, the default: the WebSocket clients speak
 * the protocol over bare sockets, `_load-ws.ts`; `undici`: Node's global
 * `WebSocket`, to compare), `--submit-client=` (`net`, the default: the
 * submissions go over a pool of bare keep-alive sockets, `_load-http.ts`;
 * `http`: over `node:http`'s agent; the status reads always do),
 * `--clients-nice=` (the generator's client processes run that much
 * nicer than the service, 0 to 19, the probe not: clients elsewhere would
 * not take the service's processor; 0, the default, shares the two cores
 * evenly), `--clients-sched=` (`other`, the default: the client
 * processes keep the service's scheduling policy; `batch`: they run under
 * `SCHED_BATCH`, the same share of the processor, but a client woken by
 * the service's write does not preempt it at once, as a client on another
 * machine would not; the probe keeps the service's), `--clients-cpus=`
 * (a `taskset -c` list, e.g. `1`: the client processes run on those
 * processors only, the probe and the service anywhere — clients pinned to
 * one core leave the other to the service, as clients elsewhere would
 * leave it all; unset, the default, every processor), `--clients-node-flags=`
 * (more Node/V8 flags for the client processes, space-separated; the probe
 * and the service do not get them) (or `LOAD_DURATION`,
 * `LOAD_RATE`, … in the environment). `--profile=DIR` writes a CPU profile of
 * the service there (`node --cpu-prof`), and the run prints what filled the
 * stalls of the service's loop, which it always lists (`_load-stalls.ts`: a
 * 10-ms timer more than 50 ms late, with the GC inside it), per interval and
 * over the load; `--heap-snapshots=DIR` writes two
 * heap snapshots of it there, at the end of warm-up and at the end of the
 * load (each stops the service for seconds: figures of such a run are not
 * comparable), to see what the RSS slope is made of. The service runs with
 * `--trace-gc`: the heap each full collection (mark-compact) leaves behind is
 * what the service retains, and the run prints it after warm-up beside the
 * RSS slope — a growing RSS over a flat retained heap is V8 letting garbage
 * pile up between collections, not a leak. `--trace-gc=FILE` writes the
 * service's GC lines there. What the RSS is made of is read from the
 * service's `/proc/<pid>/smaps` each interval (`_load-memory.ts`): the C heap
 * (`malloc`: glibc's arenas; `brk`, of them the main thread's, which glibc
 * returns only from its top), the V8 heap's committed pages, the other
 * anonymous memory, mapped files — and the run prints each part's slope, so
 * a growing RSS is placed. Each interval also shows what the kernel saw
 * (`_load-kernel.ts`): the service's accept queue, sampled every 100 ms
 * (longest, and the share of samples it was not empty), and the TCP
 * counters that place a lost or late handshake (`ListenOverflows`,
 * `ListenDrops`, `TCPBacklogDrop`, `TCPTimeouts`, `TCPSynRetrans`,
 * `TCPLossProbes`, and those of a new connection meeting an old one's
 * TIME_WAIT — `TWRecycled`, `PAWSTimewait`, `TCPTimeWaitOverflow`,
 * `TCPReqQFullDrop`, `SyncookiesSent`: every listener's on the machine), the
 * connections in TIME_WAIT on the service's port at the interval's end, on
 * its side and on its clients'; and, from the service's trace, the longest
 * gap between two connections it accepted. At the end
 * each of the probe's new-connection reads is joined, by its port, with the
 * service's trace of it: the time from the client's `connect` to the
 * service's accept, to the request parsed, to the response written, and
 * from there to the probe's first byte — where the read's time went; and
 * each read over 100 ms is placed against what the service did meanwhile
 * (`_load-timeline.ts`' `explain`): the garbage collections inside it, and
 * its main thread's time on a processor and waiting for one over the
 * 10-ms `schedstat` samples around it, read from `/proc` here.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { Figures, IntervalReport, Mix, Split } from "./_load-generator.ts"
import { acceptQueue, counterDelta, counterNames, counterShortNames, tcpCounters, timeWaits } from "./_load-kernel.ts"
import { cpuOf, memoryParts } from "./_load-memory.ts"
import { runWait, schedDelta, threadSched } from "./_load-sched.ts"
import { machineCpu, stealPercent } from "./_load-steal.ts"
import { groupDelta, type ThreadTimes, treeThreads } from "./_load-threads.ts"
import type { ProbeRead } from "./_load-probe.ts"
import { explain, joinReads, type SchedPoint } from "./_load-timeline.ts"
import { type Collection, type CpuProfile, type Stall, stalledFunctions, summarize } from "./_load-stalls.ts"
import type { TracedRead } from "./_load-trace.ts"
import { fmt, type Quantiles, quantiles, table } from "./_measure.ts"

const here = dirname(fileURLToPath(import.meta.url))
const main = join(here, "..", "packages", "server", "src", "main.ts")

const args = process.argv.slice(2)
const full = args.includes("--full") || process.env.LOAD_MIX === "full"
/** A setting from `--name=value`, else `LOAD_NAME`, else the mix's default. */
const setting = (name: string, short: number, whole: number): number => {
  const flag = args.find((arg) => arg.startsWith(`--${name}=`))
  const value = flag?.slice(name.length + 3) ?? process.env[`LOAD_${name.toUpperCase().replace(/-/g, "_")}`]
  const parsed = value === undefined ? Number.NaN : Number(value)
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : full ? whole : short
}

const mix: Mix = {
  durationSeconds: setting("duration", 60, 300),
  intervalSeconds: setting("interval", 10, 10),
  rate: setting("rate", 50, 200),
  taskMillis: setting("task-ms", 1000, 1000),
  statusRate: setting("status-rate", 20, 20),
  probeRate: setting("probe-rate", 5, 5),
  sseTask: setting("sse-task", 200, 790),
  sseAll: setting("sse-all", 5, 10),
  wsWatch: setting("ws-watch", 50, 190),
  wsAll: setting("ws-all", 5, 10)
}
/** The service's young-generation cap (`--max-semi-space-size`, MB); 0 (the default, as `npm start` runs it): V8's own. */
const semiSpace = setting("semi-space", 0, 0)
/** The service's `CHAINJOBS_TURN_BUDGET_MS` (`--turn-budget=`), or undefined for its default. */
const turnBudget = args.find((arg) => arg.startsWith("--turn-budget="))?.slice("--turn-budget=".length) ??
  process.env.LOAD_TURN_BUDGET
/** The service's `CHAINJOBS_OPEN_BUDGET_MS` (`--open-budget=`), or undefined for its default. */
const openBudget = args.find((arg) => arg.startsWith("--open-budget="))?.slice("--open-budget=".length) ??
  process.env.LOAD_OPEN_BUDGET
/** The service's `MALLOC_ARENA_MAX` (`--malloc-arena-max=`), or undefined for glibc's own. */
const mallocArenaMax = args.find((arg) => arg.startsWith("--malloc-arena-max="))?.slice("--malloc-arena-max=".length) ??
  process.env.LOAD_MALLOC_ARENA_MAX
/**
 * The service's `GLIBC_TUNABLES` (`--glibc-tunables=`, e.g.
 * `glibc.malloc.mmap_threshold=131072`: a fixed threshold, which also stops
 * glibc raising it each time a large mapped chunk is freed), or undefined for
 * none; the generator's processes do not get it.
 */
const glibcTunables = args.find((arg) => arg.startsWith("--glibc-tunables="))?.slice("--glibc-tunables=".length) ??
  process.env.LOAD_GLIBC_TUNABLES
/** jemalloc's shared library, `LD_PRELOAD`ed into the service by `--allocator=jemalloc`. */
const jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
/** The service's C heap allocator (`--allocator=`): glibc's own, or jemalloc in its place. */
const allocator = args.find((arg) => arg.startsWith("--allocator="))?.slice("--allocator=".length) ?? process.env.LOAD_ALLOCATOR ?? "glibc"
if (allocator !== "glibc" && allocator !== "jemalloc") throw new Error(`--allocator=${allocator}: glibc or jemalloc`)
/** The service's `CHAINJOBS_ACCEPTORS` (`--acceptors=`), or undefined for its default. */
const acceptors = args.find((arg) => arg.startsWith("--acceptors="))?.slice("--acceptors=".length) ?? process.env.LOAD_ACCEPTORS
/** Node/V8 flags given as `--<name>=` (or `LOAD_<NAME>`), space-separated; none if not given. */
const flagsSetting = (name: string): ReadonlyArray<string> =>
  (args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? process.env[`LOAD_${name.toUpperCase().replace(/-/g, "_")}`] ?? "")
    .split(" ").filter((flag) => flag !== "")
/** More Node/V8 flags for the service's command line (`--node-flags=`, space-separated); the generator's processes do not get them. */
const nodeFlags = flagsSetting("node-flags")
/** The client processes' scheduling policy (`--clients-sched=`): `other` (the service's, the default) or `batch`. */
const clientsSched = args.find((arg) => arg.startsWith("--clients-sched="))?.slice("--clients-sched=".length) ?? process.env.LOAD_CLIENTS_SCHED ?? "other"
if (clientsSched !== "other" && clientsSched !== "batch") throw new Error(`--clients-sched=${clientsSched}: other or batch`)
/** How the generator splits its clients over processes, and when one counts as stalled (`--sse-procs=`, `--stall-ms=`). */
const split: Split = {
  sseTaskParts: Math.max(1, Math.round(setting("sse-procs", 4, 4))),
  stallMillis: setting("stall-ms", 50, 50),
  sseClient: (args.find((arg) => arg.startsWith("--sse-client="))?.slice("--sse-client=".length) ?? process.env.LOAD_SSE_CLIENT) === "http" ? "http" : "net",
  submitClient: (args.find((arg) => arg.startsWith("--submit-client="))?.slice("--submit-client=".length) ?? process.env.LOAD_SUBMIT_CLIENT) === "http" ? "http" : "net",
  wsClient: (args.find((arg) => arg.startsWith("--ws-client="))?.slice("--ws-client=".length) ?? process.env.LOAD_WS_CLIENT) === "undici" ? "undici" : "net",
  clientsNice: Math.min(19, Math.round(setting("clients-nice", 0, 0))),
  clientsBatch: clientsSched === "batch",
  clientsCpus: args.find((arg) => arg.startsWith("--clients-cpus="))?.slice("--clients-cpus=".length) ?? process.env.LOAD_CLIENTS_CPUS ?? "",
  clientsNodeFlags: flagsSetting("clients-node-flags")
}
const warmupSeconds = setting("warmup", 20, 60)
const cooldownSeconds = setting("cooldown", 20, 60)

const sleep = (millis: number) => new Promise<void>((wake) => setTimeout(wake, millis))

/** Lines a child prints, one callback each. */
const lines = (child: ChildProcess, onLine: (line: string) => void) => createInterface({ input: child.stdout! }).on("line", onLine)

/** The service's resident set, from /proc (read without asking the service). */
const rssOf = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match === null ? 0 : Number(match[1]) * 1024
}


/** The sum of every series of metric `name` in a scrape's text; `none` when it has none. */
const sumOf = (text: string, name: string, none: number) => {
  const lines = text.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
  return lines.length === 0 ? none : lines.reduce((sum, l) => sum + Number(l.split(" ").pop()), 0)
}

/** One scrape of the service's /metrics: the process figures the table shows. */
const scrape = async (base: string) => {
  try {
    const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
    const value = (name: string, labels = "") => {
      const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `) || (labels === "" && l.startsWith(`${name} `)))
      return line === undefined ? Number.NaN : Number(line.split(" ").pop())
    }
    return {
      heap: value("nodejs_heap_used_bytes"),
      // The heap V8 has committed (live objects and the garbage not yet collected), and memory outside it (buffers).
      heapTotal: value("nodejs_heap_total_bytes"),
      // Of it, the pages in memory (every space's physical size): a space is committed whole, resident as far as touched.
      // NaN from a service without the metric (before session 29).
      heapPhysical: sumOf(text, "nodejs_heap_space_physical_bytes", Number.NaN),
      // The SQLite worker thread's heap, committed and resident (NaN from a service without it: no SQLite, or older).
      workerTotal: value("chainjobs_sqlite_worker_heap_bytes", `{kind="total"}`),
      workerPhysical: value("chainjobs_sqlite_worker_heap_bytes", `{kind="physical"}`),
      external: value("nodejs_external_memory_bytes"),
      // Seconds spent collecting garbage so far, every kind of collection summed (0 before the first).
      gcSeconds: sumOf(text, "nodejs_gc_duration_seconds_total", 0),
      newSpace: value("nodejs_heap_space_size_bytes", `{space="new_space"}`),
      loopP99: value("nodejs_eventloop_delay_seconds", `{quantile="0.99"}`),
      // The longest wait of a timer for the event loop since the previous scrape: the longest turn, about.
      loopMax: value("nodejs_eventloop_delay_seconds", `{quantile="max"}`),
      // The longest fiber work waited for its turn of the service's scheduler since the previous scrape: its run queue's age.
      schedulerWait: value("chainjobs_scheduler_wait_seconds_max"),
      connections: value("chainjobs_http_connections_open"),
      taskSubscribers: value("chainjobs_event_subscribers", `{stream="task"}`),
      allSubscribers: value("chainjobs_event_subscribers", `{stream="all"}`)
    }
  } catch {
    return { heap: Number.NaN, heapTotal: Number.NaN, heapPhysical: Number.NaN, workerTotal: Number.NaN, workerPhysical: Number.NaN, external: Number.NaN, gcSeconds: Number.NaN, newSpace: Number.NaN, loopP99: Number.NaN, loopMax: Number.NaN, schedulerWait: Number.NaN, connections: Number.NaN, taskSubscribers: Number.NaN, allSubscribers: Number.NaN }
  }
}

const mb = (bytes: number) => (Number.isFinite(bytes) ? fmt(bytes / 2 ** 20) : "?")
const ms = (q: Quantiles) => (q.n === 0 ? "-" : `${fmt(q.p50)}/${fmt(q.p99)}`)
/**
 * An interval's figure as measured, p50/p99; when a generator process that took part in it stalled, followed by
 * `|` and the p99 without that process's samples (`-` if it took all of them): the service's share.
 */
const marked = (report: IntervalReport, pick: (f: Figures) => Quantiles) => {
  const measured = pick(report)
  const steady = pick(report.steady)
  return measured.n === steady.n ? ms(measured) : `${ms(measured)}|${steady.n === 0 ? "-" : fmt(steady.p99)}`
}

/** The slope of `points` by least squares. */
const slope = (points: ReadonlyArray<readonly [number, number]>): number => {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0)
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
  return sxx === 0 ? 0 : sxy / sxx
}

/** The service's main isolate: the one whose full collections left the most. */
const mainIsolate = () =>
  [...retained.entries()].sort(([, a], [, b]) => Math.max(...b.map(([, m]) => m)) - Math.max(...a.map(([, m]) => m)))[0]?.[0]

/** The full collections of the service's main isolate after warm-up, during the load. */
const fullCollections = () => {
  const main = retained.get(mainIsolate() ?? "") ?? []
  return main.filter(([t]) => t >= warmupSeconds && t <= mix.durationSeconds)
}

console.log(
  `load (${full ? "full" : "short"} mix): ${mix.rate} submissions/s of ${mix.taskMillis}-ms tasks for ${mix.durationSeconds} s; ` +
    `watchers: ${mix.sseTask} task SSE (new connection per task), ${mix.sseAll} /api/events, ` +
    `${mix.wsWatch} WS Watch, ${mix.wsAll} WS WatchChanges; ${mix.statusRate} status reads/s on new and on open connections (the probe ${mix.probeRate}); ` +
    `service young generation ${semiSpace === 0 ? "V8's default" : `--max-semi-space-size=${semiSpace}`}; ` +
    `fiber work per turn ${turnBudget === undefined ? "the service's default" : `CHAINJOBS_TURN_BUDGET_MS=${turnBudget}`}; ` +
    `event streams opened inline per poll phase ${openBudget === undefined ? "the service's default" : `CHAINJOBS_OPEN_BUDGET_MS=${openBudget}`}; ` +
    `C heap ${allocator === "jemalloc" ? `jemalloc (LD_PRELOAD=${jemalloc})` : "glibc's"}, arenas ${mallocArenaMax === undefined ? "glibc's default" : `MALLOC_ARENA_MAX=${mallocArenaMax}`}${glibcTunables === undefined ? "" : `, GLIBC_TUNABLES=${glibcTunables}`}; ` +
    `listening sockets ${acceptors === undefined ? "the service's default" : `CHAINJOBS_ACCEPTORS=${acceptors}`}; ` +
    `service node flags ${nodeFlags.length === 0 ? "none added" : nodeFlags.join(" ")}; ` +
    `generator: task SSE watchers over ${split.sseTaskParts} processes, event streams read with ${split.sseClient === "net" ? "bare sockets" : "node:http"}, WebSockets ${split.wsClient === "net" ? "over bare sockets" : "undici's"}, submissions ${split.submitClient === "net" ? "over bare keep-alive sockets" : "over node:http"}, a process stalled above ${split.stallMillis} ms of event-loop delay; client processes ${split.clientsNice === 0 ? "at the service's priority" : `nice ${split.clientsNice}`}${split.clientsBatch ? ", SCHED_BATCH" : ""}${split.clientsCpus === "" ? "" : `, on processors ${split.clientsCpus} only`}${split.clientsNodeFlags.length === 0 ? "" : `, node flags ${split.clientsNodeFlags.join(" ")}`}`
)

const profileDir = args.find((arg) => arg.startsWith("--profile="))?.slice("--profile=".length)
/** Where heap snapshots of the service go (`--heap-snapshots=DIR`): one at the end of warm-up, one at the end of the load. */
const snapshotDir = args.find((arg) => arg.startsWith("--heap-snapshots="))?.slice("--heap-snapshots=".length)
/** Where the service's `--trace-gc` lines go (`--trace-gc=FILE`). */
const traceGcFile = args.find((arg) => arg.startsWith("--trace-gc="))?.slice("--trace-gc=".length)
const traceGc = traceGcFile === undefined ? undefined : createWriteStream(traceGcFile)
/**
 * A mark-compact line of `--trace-gc`: isolate, then the heap in use before and after, the heap committed after, and
 * V8's pool of freed pages it keeps (`pooled:`; MB).
 */
const markCompact =
  /^\[\d+:(0x[0-9a-f]+)\]\s+[\d.]+ ms: Mark-Compact[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+) \(([\d.]+)\) MB(?:, pooled: ([\d.]+) MB)?/
/**
 * Each full collection per isolate (the service's main one is the largest), at the load's clock (s): the heap it left,
 * the heap committed after it and V8's pool of freed pages then (MB; NaN when the line gives none).
 */
const retained = new Map<string, Array<readonly [t: number, left: number, committed: number, pooled: number]>>()
/** Any collection's line of `--trace-gc`: isolate, the heap committed after it and V8's pool then (MB). */
const anyCollection = /^\[\d+:(0x[0-9a-f]+)\]\s+[\d.]+ ms: [A-Za-z-]+[^\d]*[\d.]+ \([\d.]+\) -> [\d.]+ \(([\d.]+)\) MB(?:, pooled: ([\d.]+) MB)?/
/**
 * Each collection of any kind per isolate, at the load's clock (s): the heap committed after it plus V8's pool then
 * (MB). The service's second isolate is the SQLite worker thread's: its pages are resident and none of the main
 * isolate's figures count them (session 29: its young generation grew 31 -> 81 MB under the full mix).
 */
const committedByIsolate = new Map<string, Array<readonly [t: number, committedAndPool: number]>>()
/** When the load generator started (ms, `performance.now`): the clock of `retained`. */
let loadStartedAt = Number.NaN
const dataDir = mkdtempSync(join(tmpdir(), "chainjobs-load-"))
const server = spawn(
  process.execPath,
  [
    ...(semiSpace === 0 ? [] : [`--max-semi-space-size=${semiSpace}`]),
    ...(profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]),
    ...(snapshotDir === undefined ? [] : ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${snapshotDir}`]),
    ...nodeFlags,
    "--trace-gc",
    // Times the probe's new-connection reads inside the service: accept -> request -> finish.
    `--import=${pathToFileURL(join(here, "_load-trace.ts")).href}`,
    main,
    "serve",
    "--port",
    "0",
    "--data-dir",
    dataDir,
    "--max-workers",
    "300",
    "--dev-chain",
    "false"
  ],
  {
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      ...(turnBudget === undefined ? {} : { CHAINJOBS_TURN_BUDGET_MS: turnBudget }),
      ...(openBudget === undefined ? {} : { CHAINJOBS_OPEN_BUDGET_MS: openBudget }),
      ...(mallocArenaMax === undefined ? {} : { MALLOC_ARENA_MAX: mallocArenaMax }),
      ...(glibcTunables === undefined ? {} : { GLIBC_TUNABLES: glibcTunables }),
      ...(allocator === "jemalloc" ? { LD_PRELOAD: jemalloc } : {}),
      ...(acceptors === undefined ? {} : { CHAINJOBS_ACCEPTORS: acceptors })
    }
  }
)
const stopServer = async () => {
  server.off("exit", exitedUnderLoad)
  if (server.exitCode !== null || server.signalCode !== null) return
  server.kill("SIGTERM")
  await Promise.race([new Promise((done) => server.once("exit", done)), sleep(10_000)])
  if (server.exitCode === null && server.signalCode === null) server.kill("SIGKILL")
}
process.on("exit", () => {
  if (server.exitCode === null) server.kill("SIGKILL")
  rmSync(dataDir, { recursive: true, force: true })
})

/** The service's own timing of the probe's new-connection reads (`_load-trace.ts`), every sample of the run (ms). */
const traced = { acceptToRequest: [] as Array<number>, requestToFinish: [] as Array<number>, reads: [] as Array<TracedRead> }
/** The service's garbage collections, every one of the run (its `gc` performance entries, on the machine's clock). */
const serviceGcs: Array<Collection> = []
/** The longest gap between two connections the service accepted, over the trace lines since the last interval row (ms). */
let acceptGap = 0
/** The service's loop stalls (`_load-stalls.ts`): every one of the run, and those listed since the last interval row. */
const loopStalls: Array<Stall> = []
let stallsSince: Array<Stall> = []
/** The service's `performance.now()` plus this is the monotonic clock of its CPU profile (ms). */
let clockOffset = Number.NaN
const base = await new Promise<string>((resolve, reject) => {
  lines(server, (line) => {
    if (line.startsWith("load-trace ")) {
      const interval: typeof traced & {
        readonly acceptGapMax: number
        readonly stalls: Array<Stall>
        readonly gcs: Array<Collection>
        readonly clockOffset: number
      } = JSON.parse(line.slice("load-trace ".length))
      loopStalls.push(...interval.stalls)
      serviceGcs.push(...interval.gcs)
      stallsSince.push(...interval.stalls)
      clockOffset = interval.clockOffset
      traced.acceptToRequest.push(...interval.acceptToRequest)
      traced.requestToFinish.push(...interval.requestToFinish)
      traced.reads.push(...interval.reads)
      acceptGap = Math.max(acceptGap, interval.acceptGapMax)
      return
    }
    if (line.startsWith("[")) {
      traceGc?.write(`${line}\n`)
      const gc = markCompact.exec(line)
      if (gc !== null && Number.isFinite(loadStartedAt)) {
        const points = retained.get(gc[1]) ?? []
        points.push([(performance.now() - loadStartedAt) / 1000, Number(gc[3]), Number(gc[4]), gc[5] === undefined ? Number.NaN : Number(gc[5])])
        retained.set(gc[1], points)
      }
      const any = anyCollection.exec(line)
      if (any !== null && Number.isFinite(loadStartedAt)) {
        const points = committedByIsolate.get(any[1]) ?? []
        points.push([(performance.now() - loadStartedAt) / 1000, Number(any[2]) + (any[3] === undefined ? 0 : Number(any[3]))])
        committedByIsolate.set(any[1], points)
      }
      return
    }
    const match = /listening on (http:\/\/\S+)/.exec(line)
    if (match !== null) resolve(match[1])
  })
  server.once("exit", (code) => reject(new Error(`the service exited (${code}) before listening`)))
})
// A service that stops under load ends the run with how it stopped, not with a failed read of its /proc files.
const exitedUnderLoad = (code: number | null, signal: NodeJS.Signals | null) => {
  console.error(`the service exited under load: code ${code}, signal ${signal}`)
  process.exit(1)
}
server.once("exit", exitedUnderLoad)

const header = [
  "t s",
  "sent",
  "acked",
  "status new ms",
  "status open ms",
  "status max new/open",
  "probe new ms",
  "probe open ms",
  "probe connect/1st byte p99",
  "loop max gen/probe",
  "stalled",
  "lag task-SSE ms",
  "lag events ms",
  "lag WS Watch ms",
  "lag WatchChanges ms",
  "drops",
  "CPU %",
  "main run/wait %",
  "preempt/s",
  "steal %",
  "GC %",
  "gen CPU %",
  "RSS MB",
  "malloc MB",
  "brk MB",
  "anon MB",
  "acceptQ max/busy%",
  "acc gap ms",
  counterShortNames.join("/"),
  "TIME_WAIT svc/cli",
  "heap MB",
  "heap total MB",
  "ext MB",
  "young MB",
  "loop p99 ms",
  "loop max ms",
  "stalls n/ms/GC%",
  "sched wait ms",
  "conns",
  "errors"
]
/** Prints a row of the interval table: cells right-aligned under the header (latencies as p50/p99). */
const printRow = (row: ReadonlyArray<string>) =>
  console.log(row.map((cell, c) => (c === row.length - 1 ? `  ${cell}` : cell.padStart(Math.max(header[c].length, 6)))).join(" "))
printRow(header)

const reports: Array<IntervalReport> = []
let cpuBefore = { at: performance.now(), seconds: cpuOf(server.pid!) }
let cpuAtStart = cpuBefore.seconds
/** The service's main thread as the scheduler saw it (`_load-sched.ts`): at the last interval, and when the load began. */
let schedBefore = threadSched(server.pid!)
let schedAtStart = schedBefore
/** The machine's processor time (`_load-steal.ts`): at the last interval, and when the load began. */
let machineBefore = machineCpu()
let machineAtStart = machineBefore
/** The host's steal per interval, in percent of the machine's processor time (NaN where unread). */
const steals: Array<number> = []
const rss: Array<readonly [number, number]> = []
/** The service's memory by part (`_load-memory.ts`) per interval, with its V8 heap's committed bytes (MB, at the load's clock). */
const parts: Array<{ readonly t: number; readonly malloc: number; readonly mainArena: number; readonly anon: number; readonly v8Pages: number; readonly v8PageCount: number; readonly file: number; readonly heapTotal: number; readonly heapPhysical: number; readonly workerTotal: number; readonly workerPhysical: number }> = []
/** The TCP counters when the load began, and at the last interval. */
const countersAtStart = tcpCounters()
let countersBefore = countersAtStart
/** The service's accept queue, sampled every 100 ms from here. */
const port = Number(new URL(base).port)
const queue = acceptQueue(port, 100)
/** The probe's new-connection reads, each on the machine's clock: joined with the service's trace at the end. */
const probeReads: Array<ProbeRead> = []
let gcBefore = 0
/** Heap snapshots asked of the service so far (`--heap-snapshots`). */
let snapshotsTaken = 0
/** The service's CPU use per interval, in percent of one core. */
const cpu: Array<number> = []
/** The service's event-loop delay per interval, p99 and max (ms). */
const loop: Array<{ readonly p99: number; readonly max: number }> = []
/** The longest wait of fiber work for its turn of the service's scheduler, per interval (ms; 0 on Effect's own). */
const schedulerWaits: Array<number> = []
/**
 * The service's main thread's run and wait totals every 10 ms of the load, on the machine's clock, read from `/proc`
 * here (not in the service): what it did while a slow probe read waited (`_load-timeline.ts`'s `explain`).
 */
const schedPoints: Array<SchedPoint> = []
let schedSampler: ReturnType<typeof setInterval> | undefined
/**
 * Every thread of the run's processes when the load began and at its latest interval (`_load-threads.ts`), with when
 * each was read (`performance.now`): read there, not after the load, while the client processes still run.
 */
let threadsAtStart: { readonly at: number; readonly threads: ReadonlyMap<number, ThreadTimes> } = { at: 0, threads: new Map() }
let threadsLast = threadsAtStart
loadStartedAt = performance.now()
const generator = spawn(process.execPath, [join(here, "_load-generator.ts"), base, JSON.stringify(mix), JSON.stringify(split)], {
  stdio: ["ignore", "pipe", "inherit"]
})
lines(generator, async (line) => {
  const parsed: IntervalReport | { readonly started: true } = JSON.parse(line)
  if ("started" in parsed) {
    // Every generator process loaded: the load, and its clock, start now.
    loadStartedAt = performance.now()
    cpuBefore = { at: performance.now(), seconds: cpuOf(server.pid!) }
    cpuAtStart = cpuBefore.seconds
    schedBefore = schedAtStart = threadSched(server.pid!)
    threadsAtStart = threadsLast = { at: performance.now(), threads: treeThreads(server.pid!) }
    machineBefore = machineAtStart = machineCpu()
    schedSampler = setInterval(() => {
      const totals = runWait(server.pid!)
      if (totals !== undefined) schedPoints.push({ at: performance.timeOrigin + performance.now(), ...totals })
    }, 10)
    return
  }
  const report = parsed
  reports.push(report)
  const resident = rssOf(server.pid!)
  const cpuNow = { at: performance.now(), seconds: cpuOf(server.pid!) }
  const elapsed = (cpuNow.at - cpuBefore.at) / 1000
  const cpuPercent = (100 * (cpuNow.seconds - cpuBefore.seconds)) / elapsed
  // The generator's CPU, its processes summed (of one core): with the service's, what the machine's two cores carry.
  const generatorPercent = (100 * report.cpuSeconds) / elapsed
  cpuBefore = cpuNow
  cpu.push(cpuPercent)
  const schedNow = threadSched(server.pid!)
  // A client process that has exited since keeps its last reading (the last interval's report may follow its exit).
  threadsLast = { at: performance.now(), threads: new Map([...threadsLast.threads, ...treeThreads(server.pid!)]) }
  const sched = schedDelta(schedBefore, schedNow)
  schedBefore = schedNow
  const machineNow = machineCpu()
  const steal = stealPercent(machineBefore, machineNow)
  machineBefore = machineNow
  steals.push(steal)
  rss.push([report.t, resident])
  // The first snapshot once warm-up is over, the second at the end of the load: what grew between them is what the slope is made of.
  const snapshotDue = snapshotsTaken === 0 ? report.t >= warmupSeconds : snapshotsTaken === 1 && report.t >= mix.durationSeconds
  if (snapshotDir !== undefined && snapshotDue) {
    snapshotsTaken++
    server.kill("SIGUSR2")
  }
  const process_ = await scrape(base)
  const memory = memoryParts(server.pid!)
  if (memory !== undefined) parts.push({ t: report.t, ...memory, heapTotal: process_.heapTotal, heapPhysical: process_.heapPhysical, workerTotal: process_.workerTotal, workerPhysical: process_.workerPhysical })
  const counters = tcpCounters()
  const counted = counterDelta(countersBefore, counters)
  countersBefore = counters
  const queued = queue.take()
  const waits = await timeWaits(port)
  const gap = acceptGap
  acceptGap = 0
  const stalled = summarize(stallsSince)
  stallsSince = []
  probeReads.push(...(report.probe?.timeline ?? []))
  // The service's time in garbage collection over the interval, in percent of the interval (of one core).
  if (Number.isFinite(process_.loopMax)) loop.push({ p99: process_.loopP99 * 1000, max: process_.loopMax * 1000 })
  if (Number.isFinite(process_.schedulerWait)) schedulerWaits.push(process_.schedulerWait * 1000)
  const gcPercent = (100 * (process_.gcSeconds - gcBefore)) / elapsed
  gcBefore = process_.gcSeconds
  const errors = [...Object.entries(report.errors), ...Object.entries(report.probe?.errors ?? {}).map(([kind, n]) => [`probe-${kind}`, n] as const)]
    .map(([kind, n]) => `${kind}:${n}`).join(" ") || "0"
  printRow([
    String(report.t),
    String(report.sent),
    String(report.acked),
    marked(report, (f) => f.statusNew),
    marked(report, (f) => f.statusOpen),
    `${fmt(Math.max(0, ...report.statusReads.statusNew))}/${fmt(Math.max(0, ...report.statusReads.statusOpen))}`,
    report.probe === undefined ? "?" : ms(report.probe.statusNew),
    report.probe === undefined ? "?" : ms(report.probe.statusOpen),
    report.probe === undefined || report.probe.connect.n === 0 ? "-" : `${fmt(report.probe.connect.p99)}/${fmt(report.probe.firstByte.p99)}`,
    `${fmt(report.loopMax)}/${report.probe === undefined ? "?" : fmt(report.probe.loopMax)}`,
    `${report.stalled.length}/${report.parts.length}`,
    marked(report, (f) => f.lag.sseTask),
    marked(report, (f) => f.lag.sseAll),
    marked(report, (f) => f.lag.wsWatch),
    marked(report, (f) => f.lag.wsAll),
    String(report.dropped),
    fmt(cpuPercent),
    // The main thread's time on a processor and waiting for one, in percent of the interval; its preemptions a second.
    Number.isFinite(sched.runMs) ? `${fmt(sched.runMs / elapsed / 10)}/${fmt(sched.waitMs / elapsed / 10)}` : "?",
    Number.isFinite(sched.preempted) ? fmt(sched.preempted / elapsed) : "?",
    // The host's share of the machine's two processors in the interval: time it ran others while this one was runnable.
    Number.isFinite(steal) ? fmt(steal, 1) : "?",
    Number.isFinite(gcPercent) ? fmt(gcPercent) : "?",
    fmt(generatorPercent),
    mb(resident),
    mb(memory?.malloc ?? Number.NaN),
    // Of it, the main thread's arena: the C heap glibc returns only from its top.
    mb(memory?.mainArena ?? Number.NaN),
    // Anonymous memory besides the C heap: the V8 heaps' resident pages, large buffers, stacks.
    mb(memory?.anon ?? Number.NaN),
    queued.samples === 0 ? "?" : `${queued.max}/${fmt(100 * queued.nonEmpty)}`,
    fmt(gap),
    counterNames.map((name) => Number.isFinite(counted[name]) ? String(counted[name]) : "?").join("/"),
    `${Number.isFinite(waits.service) ? waits.service : "?"}/${Number.isFinite(waits.clients) ? waits.clients : "?"}`,
    mb(process_.heap),
    mb(process_.heapTotal),
    mb(process_.external),
    mb(process_.newSpace),
    Number.isFinite(process_.loopP99) ? fmt(process_.loopP99 * 1000) : "?",
    Number.isFinite(process_.loopMax) ? fmt(process_.loopMax * 1000) : "?",
    `${stalled.count}/${fmt(stalled.ms)}/${stalled.ms === 0 ? "-" : fmt((100 * stalled.gcMs) / stalled.ms)}`,
    Number.isFinite(process_.schedulerWait) ? fmt(process_.schedulerWait * 1000) : "?",
    Number.isFinite(process_.connections) ? String(process_.connections) : "?",
    errors
  ])
})
await new Promise((done) => generator.once("exit", done))
/** When the load ended (ms, `performance.now`): the stalls between its start and this are the load's. */
const loadEndedAt = performance.now()
queue.stop()
clearInterval(schedSampler)
/** The service's CPU seconds over the load (from the generator's start to its exit). */
const cpuSecondsUnderLoad = cpuOf(server.pid!) - cpuAtStart
/** The main thread's time on a processor and waiting for one, and its preemptions, over the load. */
const schedUnderLoad = schedDelta(schedAtStart, threadSched(server.pid!))
/** The host's steal over the load, in percent of the machine's processor time. */
const stealUnderLoad = stealPercent(machineAtStart, machineCpu())

// Every client is gone: does memory come back?
const warm = rss.find(([t]) => t >= warmupSeconds) ?? rss[rss.length - 1]
const afterWarmup = rss.filter(([t]) => t >= warmupSeconds)
const slopePerMinute = slope(afterWarmup) * 60
console.log(`resting ${cooldownSeconds} s with no client…`)
await sleep(cooldownSeconds * 1000)
const rested = rssOf(server.pid!)
await stopServer()

/** This process's `performance.now()` plus this is the monotonic clock (ms), as `clockOffset` is the service's. */
const ownClockOffset = Number(process.hrtime.bigint()) / 1e6 - performance.now()
/** The service's loop stalls during the load (after the generator started, before it exited). */
const loadStalls = loopStalls.filter((stall) => {
  const at = stall.start + clockOffset - ownClockOffset
  return at >= loadStartedAt && at <= loadEndedAt
})
/** The service's CPU profile (`--profile=DIR`: written as it stopped), sliced by its stalls during the load. */
const stalledProfile = (() => {
  if (profileDir === undefined) return undefined
  // `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`: the main thread's is thread 0 (the others are workers', SQLite's).
  const file = readdirSync(profileDir).find((name) => name.endsWith(".cpuprofile") && name.split(".")[3] === String(server.pid) && name.split(".")[4] === "0")
  if (file === undefined) return undefined
  const profile: CpuProfile = JSON.parse(readFileSync(join(profileDir, file), "utf8"))
  return stalledFunctions(profile, loadStalls.map((stall) => [(stall.start + clockOffset) * 1000, (stall.end + clockOffset) * 1000] as const))
})()

/** A probe read on a new connection slower than this is placed against the service's work (ms): the goal's bound. */
const slowReadMillis = 100

/**
 * The summary's rows on the probe's new-connection reads over `slowReadMillis`: their time, the service's main
 * thread over the spans around them (on a processor, waiting for one, neither) and the GC inside them, in all and
 * for the slowest eight each.
 */
const slowReads = (phases: ReturnType<typeof joinReads>): Array<[string, string, string, string]> => {
  const sinceLoad = (at: number) => (at - performance.timeOrigin - loadStartedAt) / 1000
  const slow = phases.map((read) => explain(read, serviceGcs, schedPoints)).filter((read) => read.total > slowReadMillis)
  const spanned = slow.filter((read) => Number.isFinite(read.spanMs))
  const span = spanned.reduce((sum, read) => sum + read.spanMs, 0)
  const run = spanned.reduce((sum, read) => sum + read.runMs, 0)
  const wait = spanned.reduce((sum, read) => sum + read.waitMs, 0)
  const time = slow.reduce((sum, read) => sum + read.total, 0)
  const gc = slow.reduce((sum, read) => sum + read.gcMs, 0)
  const major = slow.reduce((sum, read) => sum + read.majorGcMs, 0)
  const percent = (part: number, whole: number) => (whole > 0 ? fmt((100 * part) / whole) : "-")
  const afterFirst = slow.filter((read) => sinceLoad(read.at) >= mix.intervalSeconds).length
  const slowest = [...slow].sort((a, b) => b.total - a.total).slice(0, 8)
  return [
    [
      `the probe's new-connection reads over ${slowReadMillis} ms (of those joined; after the first interval): their time (s); the service's main thread over the 10-ms samples' spans around them: on a processor / waiting for one / neither (%); GC inside them (% of their time: every kind / major)`,
      slow.length === 0
        ? `0 of ${phases.length}`
        : `${slow.length} of ${phases.length}; ${afterFirst}: ${fmt(time / 1000, 1)}; ${percent(run, span)} / ${percent(wait, span)} / ${
          percent(span - run - wait, span)
        }; ${percent(gc, time)} / ${percent(major, time)}`,
      "",
      ""
    ],
    [
      "the slowest of them, at s into the load: total = connect -> accept + accept -> parsed + parsed -> written + -> first byte (ms); the main thread over its span: on a processor / waiting (%); GC every kind / major (ms)",
      slowest.length === 0 ? "-" : slowest.map((read) =>
        `${fmt(sinceLoad(read.at), 1)}: ${fmt(read.total)} = ${fmt(read.connectToAccept)} + ${fmt(read.acceptToParsed)} + ${fmt(read.parsedToFinish)} + ${
          fmt(read.finishToHead)
        }; ${percent(read.runMs, read.spanMs)} / ${percent(read.waitMs, read.spanMs)}; ${fmt(read.gcMs)} / ${fmt(read.majorGcMs)}`
      ).join("; "),
      "",
      ""
    ]
  ]
}

// ---------------------------------------------------------------------------
// the whole run
// ---------------------------------------------------------------------------

/** A figure over `over` (every interval of the run unless given): its intervals' samples counted, the median of their medians, the worst p99. */
const all = (pick: (r: IntervalReport) => Quantiles, over: ReadonlyArray<IntervalReport> = reports) => {
  // The run's percentiles are not the intervals' merged exactly; the worst interval's p99 is the honest bound.
  const items = over.map(pick).filter((q) => q.n > 0)
  return {
    n: items.reduce((s, q) => s + q.n, 0),
    p50: items.length === 0 ? 0 : items.map((q) => q.p50).sort((a, b) => a - b)[Math.floor(items.length / 2)],
    p99: items.reduce((m, q) => Math.max(m, q.p99), 0)
  }
}
const errors: Record<string, number> = {}
for (const report of reports) for (const [kind, n] of Object.entries(report.errors)) errors[kind] = (errors[kind] ?? 0) + n
for (const report of reports) for (const [kind, n] of Object.entries(report.probe?.errors ?? {})) errors[`probe-${kind}`] = (errors[`probe-${kind}`] ?? 0) + n
const errorCount = Object.values(errors).reduce((s, n) => s + n, 0)
const sent = reports.reduce((s, r) => s + r.sent, 0)
const acked = reports.reduce((s, r) => s + r.acked, 0)
/** Submissions abandoned at the finish, never sent: the load asked for more than reached the service. */
const unsent = reports.reduce((s, r) => s + r.unsent, 0)
/** A figure over the run as measured, and `steady`: without the samples of generator processes that stalled. */
const both = (pick: (f: Figures) => Quantiles) => ({ ...all(pick), steady: all((r) => pick(r.steady)) })
/** A figure of the run, as measured then steady (`n/a` where stalled processes took every sample). */
const twice = (figure: ReturnType<typeof both>) => `${ms(figure)}; steady ${figure.steady.n === 0 ? "n/a" : ms(figure.steady)}`
const statusNew = both((f) => f.statusNew)
const statusOpen = both((f) => f.statusOpen)
/**
 * The status sampler's rate before session 27 (reads a second per kind): ~50 reads an interval, whose p99
 * (`quantiles`: the value at index floor(0.99 n)) is their maximum — one slow read in 50 missed an interval. The
 * default now reads `statusRate` (20) a second, 200 an interval, whose p99 is the second slowest (see the module's
 * note); the run counts the intervals met both ways, the sparse way over every `sparseEvery`-th read of the same run.
 */
const sparseRate = 5
/** Which reads a sampler of `sparseRate` would have made: every `sparseEvery`-th. */
const sparseEvery = Math.max(1, Math.round(mix.statusRate / sparseRate))
/** The intervals whose status p99 was at most 100 ms over the reads `thin` keeps of each: new, open, and both. */
const metCount = (thin: (reads: ReadonlyArray<number>) => ReadonlyArray<number>) => {
  const met = (reads: ReadonlyArray<number>) => {
    const q = quantiles([...thin(reads)])
    return q.n > 0 && q.p99 <= 100
  }
  const each = reports.map((r) => [met(r.statusReads.statusNew), met(r.statusReads.statusOpen)] as const)
  return {
    statusNew: each.filter(([n]) => n).length,
    statusOpen: each.filter(([, o]) => o).length,
    both: each.filter(([n, o]) => n && o).length
  }
}
/** The probe's figures of the run: per interval as `all`, and the p99 of every read of the run pooled (a p99 of ~50 reads, an interval's, is their maximum). */
const probed = (pick: (samples: NonNullable<IntervalReport["probe"]>["samples"]) => ReadonlyArray<number>, picked: (r: NonNullable<IntervalReport["probe"]>) => Quantiles) => ({
  ...all((r) => r.probe === undefined ? quantiles([]) : picked(r.probe)),
  pooled: quantiles(reports.flatMap((r) => r.probe === undefined ? [] : [...pick(r.probe.samples)]))
})
const probeNew = probed((s) => s.statusNew, (p) => p.statusNew)
const probeOpen = probed((s) => s.statusOpen, (p) => p.statusOpen)
const worst = (pick: (r: NonNullable<IntervalReport["probe"]>) => number) =>
  reports.reduce((m, r) => r.probe === undefined ? m : Math.max(m, pick(r.probe)), 0)
const lagTask = both((f) => f.lag.sseTask)
const lagAll = both((f) => f.lag.sseAll)
/** Per generator process, the intervals in which it stalled (or did not answer), of those it ran in. */
const stalls = (() => {
  const names = [...new Set(reports.flatMap((r) => [...r.parts.map((p) => p.name), ...r.stalled]))]
  return names.map((name) => `${name} ${reports.filter((r) => r.stalled.includes(name)).length}`).join(", ")
})()
/** Per generator process, the CPU seconds it used over the load (its reports summed): what the generator takes from the service's two cores. */
const partCpu = (() => {
  const seconds = new Map<string, number>()
  for (const report of reports) for (const part of report.parts) seconds.set(part.name, (seconds.get(part.name) ?? 0) + part.cpuSeconds)
  const total = [...seconds.values()].reduce((s, n) => s + n, 0)
  return `${[...seconds].map(([name, n]) => `${name} ${fmt(n, 1)}`).join(", ")}; all ${fmt(total, 1)}`
})()
/**
 * Per generator process, its CPU over the load per unit of its work (µs): per request answered (submissions, status
 * reads), per stream opened, per frame read (events, WebSocket messages) — each figure the whole CPU divided by that
 * count, so a part's figures are not to be summed. What each client costs its machine, whatever the load's pace.
 */
const partCpuPerUnit = (() => {
  const totals = new Map<string, { cpuSeconds: number; requests: number; streams: number; frames: number }>()
  for (const report of reports) {
    for (const part of report.parts) {
      const seen = totals.get(part.name) ?? { cpuSeconds: 0, requests: 0, streams: 0, frames: 0 }
      totals.set(part.name, {
        cpuSeconds: seen.cpuSeconds + part.cpuSeconds,
        requests: seen.requests + part.work.requests,
        streams: seen.streams + part.work.streams,
        frames: seen.frames + part.work.frames
      })
    }
  }
  const per = (seconds: number, count: number, unit: string) => (count === 0 ? [] : [`${fmt((seconds * 1e6) / count)} µs/${unit} (${count})`])
  return [...totals].map(([name, t]) =>
    `${name} ${[...per(t.cpuSeconds, t.requests, "request"), ...per(t.cpuSeconds, t.streams, "stream"), ...per(t.cpuSeconds, t.frames, "frame")].join(", ")}`
  ).join("; ")
})()
/** The probe's reads from intervals in which its own loop did not stall. */
const probeSteady = (pick: (samples: NonNullable<IntervalReport["probe"]>["samples"]) => ReadonlyArray<number>) =>
  quantiles(reports.flatMap((r) => r.probe === undefined || r.probe.loopMax > split.stallMillis ? [] : [...pick(r.probe.samples)]))
const returned = warm === undefined ? Number.NaN : (rested - warm[1]) / warm[1]
/** A goal's verdict; a figure with no sample (a starved run's) has met nothing. */
const verdict = (ok: boolean) => (ok ? "ok" : "MISSED")

console.log(
  "whole run (p50: median of the intervals' medians; p99: the worst interval's, and for the probe also over all its reads; " +
    `steady: without the samples of a generator process whose event loop stalled more than ${split.stallMillis} ms in that interval, ` +
    "what is left being the service's time):"
)
table([
  ["figure", "value", "goal", ""],
  [
    "acknowledged / sent; never sent (abandoned at the finish, queued for a socket)",
    `${acked} / ${sent}; ${unsent}`,
    "all; 0",
    verdict(acked === sent && unsent === 0)
  ],
  ["errors", errorCount === 0 ? "0" : Object.entries(errors).map(([k, n]) => `${k}:${n}`).join(" "), "0", verdict(errorCount === 0)],
  ["status p50/p99, new connection (ms): as measured; steady", twice(statusNew), "p99 <= 100", verdict(statusNew.n > 0 && statusNew.p99 <= 100)],
  ["status p50/p99, open connection (ms): as measured; steady", twice(statusOpen), "p99 <= 100", verdict(statusOpen.n > 0 && statusOpen.p99 <= 100)],
  [
    "status p99 over every read of the run (the issue's figure, not an interval's), new / open (ms; reads); the same after the first interval",
    (() => {
      const over = (from: number, pick: (reads: IntervalReport["statusReads"]) => ReadonlyArray<number>) =>
        quantiles(reports.slice(from).flatMap((r) => [...pick(r.statusReads)]))
      const pair = (from: number) => {
        const [n, o] = [over(from, (reads) => reads.statusNew), over(from, (reads) => reads.statusOpen)]
        return `${fmt(n.p99)} / ${fmt(o.p99)} (${n.n} / ${o.n})`
      }
      return `${pair(0)}; ${pair(1)}`
    })(),
    "",
    ""
  ],
  [
    `intervals whose status p99 was <= 100 ms at ${mix.statusRate} reads/s: new / open / both (of ${reports.length})`,
    (() => {
      const met = metCount((reads) => reads)
      return `${met.statusNew} / ${met.statusOpen} / ${met.both}`
    })(),
    "all",
    ""
  ],
  [
    `the same as a sampler of ${sparseRate} reads/s would have seen them (every ${sparseEvery}th read, ~${sparseRate * mix.intervalSeconds} an interval: their p99 is their maximum): fewest-most over the ${sparseEvery} such subsamples`,
    (() => {
      const counts = Array.from({ length: sparseEvery }, (_, offset) => metCount((reads) => reads.filter((_, i) => i % sparseEvery === offset)))
      const range = (pick: (met: ReturnType<typeof metCount>) => number) => {
        const picked = counts.map(pick)
        return `${Math.min(...picked)}-${Math.max(...picked)}`
      }
      return `${range((met) => met.statusNew)} / ${range((met) => met.statusOpen)} / ${range((met) => met.both)}`
    })(),
    "",
    ""
  ],
  [
    "the same after the first interval (its clients' connection storm, into a service just started), not a goal figure: status p99 new / open, the worst interval's; the probe's p99 over those reads, new / open (ms)",
    (() => {
      const later = reports.slice(1)
      const worstP99 = (pick: (f: Figures) => Quantiles) => fmt(all(pick, later).p99)
      const pooled = (pick: (samples: NonNullable<IntervalReport["probe"]>["samples"]) => ReadonlyArray<number>) =>
        fmt(quantiles(later.flatMap((r) => r.probe === undefined ? [] : [...pick(r.probe.samples)])).p99)
      return `${worstP99((f) => f.statusNew)} / ${worstP99((f) => f.statusOpen)}; ${pooled((s) => s.statusNew)} / ${pooled((s) => s.statusOpen)}`
    })(),
    "",
    ""
  ],
  [
    "generator processes: intervals each stalled in (its longest event-loop delay above the limit, or no answer)",
    `${stalls} (of ${reports.length})`,
    "",
    ""
  ],
  ["generator processes' CPU over the load (s)", partCpu, "", ""],
  [
    "every process and thread of the run over the load (to its last interval): on a processor / waiting for one (s), each above 1% of a core, largest first",
    (() => {
      const seconds = (threadsLast.at - threadsAtStart.at) / 1000
      return groupDelta(threadsAtStart.threads, threadsLast.threads)
        .filter((group) => group.runMs / 1000 > seconds / 100)
        .map((group) => `${group.group} ${(group.runMs / 1000).toFixed(1)} / ${(group.waitMs / 1000).toFixed(1)}`)
        .join("; ")
    })(),
    "",
    ""
  ],
  ["the same per unit of each process's work: its whole CPU per request answered, per stream opened, per frame read (µs; count)", partCpuPerUnit, "", ""],
  [
    "status by the probe, new connection: p50/p99 (ms); p99 over all reads; over the reads of intervals the probe did not stall in",
    `${ms(probeNew)}; ${fmt(probeNew.pooled.p99)} of ${probeNew.pooled.n}; ${(() => {
      const steady = probeSteady((s) => s.statusNew)
      return `${fmt(steady.p99)} of ${steady.n}`
    })()}`,
    "p99 <= 100",
    verdict(probeNew.pooled.n > 0 && probeNew.pooled.p99 <= 100)
  ],
  [
    "status by the probe, open connection: p50/p99 (ms); p99 over all reads",
    `${ms(probeOpen)}; ${fmt(probeOpen.pooled.p99)} of ${probeOpen.pooled.n}`,
    "p99 <= 100",
    verdict(probeOpen.pooled.n > 0 && probeOpen.pooled.p99 <= 100)
  ],
  [
    "probe's new connection, worst interval's p99: connect / first byte (ms)",
    `${fmt(worst((p) => p.connect.p99))} / ${fmt(worst((p) => p.firstByte.p99))}`,
    "",
    ""
  ],
  [
    "the same reads in the service, p50/p99 over the run: accept -> request parsed; request -> response written (ms)",
    (() => {
      const parse = quantiles(traced.acceptToRequest)
      const handle = quantiles(traced.requestToFinish)
      return `${ms(parse)}; ${ms(handle)} (${parse.n} reads)`
    })(),
    "",
    ""
  ],
  [
    "longest event-loop delay, worst interval: generator's processes / probe (ms)",
    `${fmt(reports.reduce((m, r) => Math.max(m, r.loopMax), 0))} / ${fmt(worst((p) => p.loopMax))}`,
    "",
    ""
  ],
  ["lag p50/p99, task SSE (ms): as measured; steady", twice(lagTask), "p99 <= 1000", verdict(lagTask.n > 0 && lagTask.p99 <= 1000)],
  ["lag p50/p99, /api/events (ms): as measured; steady", twice(lagAll), "p99 <= 1000", verdict(lagAll.n > 0 && lagAll.p99 <= 1000)],
  ["lag p50/p99, WS Watch (ms): as measured; steady", twice(both((f) => f.lag.wsWatch)), "", ""],
  ["lag p50/p99, WS WatchChanges (ms): as measured; steady", twice(both((f) => f.lag.wsAll)), "", ""],
  ["service CPU, mean of the intervals (% of one core)", fmt(cpu.reduce((s, c) => s + c, 0) / Math.max(1, cpu.length)), "", ""],
  // Processor time per task: what the service spends, whatever share of the processor the machine gives it.
  ["service CPU per 1,000 acknowledged tasks (s), and GC time in the run (s)", `${fmt(cpuSecondsUnderLoad / Math.max(1, acked) * 1000, 2)}, ${fmt(gcBefore, 1)}`, "", ""],
  [
    // Whether a late read was the service's work or the service waiting for a processor (`_load-sched.ts`).
    "the service's main thread over the load: on a processor / waiting for one (s; the wait's share of its runnable time), preempted (per s)",
    Number.isFinite(schedUnderLoad.runMs)
      ? `${fmt(schedUnderLoad.runMs / 1000, 1)} / ${fmt(schedUnderLoad.waitMs / 1000, 1)} (${fmt((100 * schedUnderLoad.waitMs) / (schedUnderLoad.runMs + schedUnderLoad.waitMs))}%), ${fmt(schedUnderLoad.preempted / mix.durationSeconds)}`
      : "?",
    "",
    ""
  ],
  [
    // How much of the run the host took (`_load-steal.ts`), and whether the intervals that missed the status goal were its.
    "the host's steal over the load (% of the machine's processor time); worst interval's; intervals whose status p99 (new or open) was over 100 ms: count, their mean steal / the other intervals' (%)",
    (() => {
      const missed = reports.map((r, i) => [r.statusNew.p99 > 100 || r.statusOpen.p99 > 100, steals[i]] as const)
        .filter(([, steal]) => Number.isFinite(steal))
      const mean = (over: ReadonlyArray<readonly [boolean, number]>) =>
        over.length === 0 ? "-" : fmt(over.reduce((sum, [, steal]) => sum + steal, 0) / over.length, 1)
      const bad = missed.filter(([miss]) => miss)
      return Number.isFinite(stealUnderLoad)
        ? `${fmt(stealUnderLoad, 1)}; ${fmt(Math.max(...missed.map(([, steal]) => steal)), 1)}; ${bad.length}, ${mean(bad)} / ${mean(missed.filter(([miss]) => !miss))}`
        : "?"
    })(),
    "",
    ""
  ],
  [
    "event-loop delay p99, median of the intervals / max, worst interval (ms)",
    loop.length === 0 ? "?" : `${fmt([...loop].map((l) => l.p99).sort((a, b) => a - b)[Math.floor(loop.length / 2)])} / ${fmt(Math.max(...loop.map((l) => l.max)))}`,
    "",
    ""
  ],
  [
    "the service's loop stalls during the load (its 10-ms timer over 50 ms late): count, time (s), longest (ms); GC inside them (% of their time: every kind / major)",
    (() => {
      const total = summarize(loadStalls)
      const share = (ms: number) => (total.ms === 0 ? "-" : fmt((100 * ms) / total.ms))
      return `${total.count}, ${fmt(total.ms / 1000, 1)}, ${fmt(total.longest)}; ${share(total.gcMs)} / ${share(total.majorGcMs)}`
    })(),
    "",
    ""
  ],
  ...(stalledProfile === undefined ? [] : [
    [
      // A sample a millisecond (`--cpu-prof`'s interval) while the thread runs: fewer samples than the stalls' milliseconds
      // is time the service waited for a processor, not work.
      `own time in the service's loop stalls, from its CPU profile (${stalledProfile.stalledSamples} samples in ${
        fmt(summarize(loadStalls).ms)
      } ms of stalls: the rest off the processor): top functions, %`,
      stalledProfile.stalled.map((share) => `${share.name} ${fmt(share.percent, 1)}`).join("; "),
      "",
      ""
    ],
    [
      `own time over the whole profile (${stalledProfile.allSamples} samples): top functions, %`,
      stalledProfile.all.map((share) => `${share.name} ${fmt(share.percent, 1)}`).join("; "),
      "",
      ""
    ]
  ]),
  [
    "fiber work's longest wait for a turn of the service's scheduler: median of the intervals / worst (ms)",
    schedulerWaits.length === 0 ? "?" : `${fmt([...schedulerWaits].sort((a, b) => a - b)[Math.floor(schedulerWaits.length / 2)])} / ${fmt(Math.max(...schedulerWaits))}`,
    "",
    ""
  ],
  ["requests resent: kept-alive socket closed as idle", String(reports.reduce((s, r) => s + r.staleSockets, 0)), "", ""],
  ["subscribers dropped / resets", `${reports.reduce((s, r) => s + r.dropped, 0)} / ${reports.reduce((s, r) => s + r.resets, 0)}`, "", ""],
  [
    `heap left by each full GC after warm-up, during the load (MB): first -> last (count); its slope (MB/min)`,
    (() => {
      // The service's main isolate: the one whose collections left the most.
      const after = fullCollections()
      return after.length === 0
        ? "no full GC"
        : `${fmt(after[0][1])} -> ${fmt(after[after.length - 1][1])} (${after.length}); ${after.length < 2 ? "-" : fmt(slope(after.map(([t, left]) => [t, left] as const)) * 60, 1)}`
    })(),
    "",
    ""
  ],
  [
    // The pool is resident and outside the committed heap: a run whose pool is low at warm-up's end and high at the
    // load's reads an RSS slope that is the pool's level, not growth (session 28: 17-58 MB from one collection to the next).
    `V8's pool of freed pages at each full GC after warm-up, during the load (MB, --trace-gc's "pooled"): first -> last, least-most; the committed heap plus the pool then: least-most`,
    (() => {
      const after = fullCollections().filter(([, , , pooled]) => Number.isFinite(pooled))
      if (after.length === 0) return "no full GC with a pool figure"
      const pools = after.map(([, , , pooled]) => pooled)
      const totals = after.map(([, , committed, pooled]) => committed + pooled)
      return `${fmt(pools[0])} -> ${fmt(pools[pools.length - 1])}, ${fmt(Math.min(...pools))}-${fmt(Math.max(...pools))}; ${fmt(Math.min(...totals))}-${fmt(Math.max(...totals))}`
    })(),
    "",
    ""
  ],
  [
    // The isolates other than the main one (the SQLite worker thread's): resident pages no main-isolate figure counts.
    "other isolates (the SQLite worker's): heap committed + V8's pool at their last collection before the warm-up's end -> at the load's end, most (MB)",
    (() => {
      const main = mainIsolate()
      const others = [...committedByIsolate.entries()].filter(([isolate]) => isolate !== main)
      if (others.length === 0) return "no other isolate's collection"
      return others.map(([, points]) => {
        const load = points.filter(([t]) => t <= mix.durationSeconds)
        const before = load.filter(([t]) => t < warmupSeconds)
        return `${before.length === 0 ? "?" : fmt(before[before.length - 1][1])} -> ${load.length === 0 ? "?" : fmt(load[load.length - 1][1])}, ${fmt(Math.max(...load.map(([, m]) => m)))}`
      }).join("; ")
    })(),
    "",
    ""
  ],
  [`RSS slope after ${warmupSeconds} s warm-up (MB/min)`, fmt(slopePerMinute / 2 ** 20, 1), "<= 5", verdict(slopePerMinute / 2 ** 20 <= 5)],
  [
    // The V8 heap's committed size is not all resident (a young generation is committed whole): it is shown beside the
    // anonymous part, which holds the resident share of it, not taken from it.
    "its parts' slopes after warm-up (MB/min): C heap (malloc; of it the main thread's arena, brk) / other anonymous (V8 heaps' pages, buffers, stacks; of it V8's 256-KB heap pages, and their count first -> last) / files; main isolate's V8 heap committed, resident; the SQLite worker's heap committed, resident",
    (() => {
      const after = parts.filter((p) => p.t >= warmupSeconds)
      const of = (pick: (p: (typeof parts)[number]) => number) => {
        const points = after.filter((p) => Number.isFinite(pick(p))).map((p) => [p.t, pick(p)] as const)
        return points.length < 2 ? "?" : fmt(slope(points) * 60 / 2 ** 20, 1)
      }
      const pages = after.length === 0 ? "?" : `${after[0].v8PageCount} -> ${after[after.length - 1].v8PageCount}`
      return `${of((p) => p.malloc)} (brk ${of((p) => p.mainArena)}) / ${of((p) => p.anon)} (V8 pages ${of((p) => p.v8Pages)}, ${pages}) / ${of((p) => p.file)}; ${of((p) => p.heapTotal)}, ${of((p) => p.heapPhysical)}; ${of((p) => p.workerTotal)}, ${of((p) => p.workerPhysical)}`
    })(),
    "",
    ""
  ],
  [
    `TCP counters over the load, every listener on the machine: ${counterNames.join(" / ")}`,
    (() => {
      const counted = counterDelta(countersAtStart, countersBefore)
      return counterNames.map((name) => Number.isFinite(counted[name]) ? String(counted[name]) : "?").join(" / ")
    })(),
    "",
    ""
  ],
  ...(() => {
    // The probe's new-connection reads joined with the service's trace of them: where each one's time went.
    const phases = joinReads(probeReads, traced.reads)
    const of = (pick: (p: (typeof phases)[number]) => number) => ms(quantiles(phases.map(pick).filter(Number.isFinite)))
    // The read whose connection waited longest for the service's accept, and when (s into the load).
    const slowest = phases.reduce<(typeof phases)[number] | undefined>((m, p) => m === undefined || p.connectToAccept > m.connectToAccept ? p : m, undefined)
    return [
      [
        `the probe's new-connection reads joined with the service's trace (${phases.length} of ${probeReads.length}), p50/p99 (ms): connect -> accept / accept -> parsed / parsed -> written / written -> probe's first byte`,
        [of((p) => p.connectToAccept), of((p) => p.acceptToParsed), of((p) => p.parsedToFinish), of((p) => p.finishToHead)].join(" / "),
        "",
        ""
      ],
      [
        "the longest connect -> accept (ms), at (s into the load)",
        slowest === undefined ? "-" : `${fmt(slowest.connectToAccept)} at ${fmt((slowest.at - performance.timeOrigin - loadStartedAt) / 1000)}`,
        "",
        ""
      ],
      ...slowReads(phases)
    ]
  })(),
  [
    `RSS warm-up -> end of load -> ${cooldownSeconds} s later (MB)`,
    `${mb(warm?.[1] ?? Number.NaN)} -> ${mb(rss[rss.length - 1]?.[1] ?? Number.NaN)} -> ${mb(rested)}`,
    "rest within 20% of warm-up",
    verdict(returned <= 0.2)
  ]
])
