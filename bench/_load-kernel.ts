/**
 * What the kernel saw of the service's connections, for `bench/load.ts`,
 * read without asking the service: a new connection whose request waits
 * while the service answers open ones waits somewhere between the client's
 * `connect` and the service's `accept`, and these readings say where.
 *
 * - `tcpCounters`: the network namespace's TcpExt counters that place a
 *   lost or late handshake (every listener's on the machine: other servers
 *   add to them) — `ListenOverflows` (a handshake completed on a full
 *   accept queue: its ACK dropped, the client's request waits for the
 *   SYN-ACK's retry, ≥ 1 s), `ListenDrops` (every SYN or ACK a listener
 *   dropped, overflows included), `TCPBacklogDrop` (a segment dropped
 *   because the socket's backlog was full while its owner held it),
 *   `TCPTimeouts` (retransmission timer expiries), `TCPSynRetrans` (SYNs
 *   and SYN-ACKs sent again), `TCPLossProbes` (tail-loss probes); and
 *   those that would show a new connection meeting an old one's TIME_WAIT
 *   (thousands of new connections a second from one address to one port
 *   reuse the client's ports within the TIME_WAIT's 60 s): `TWRecycled` (a
 *   client port taken over from a TIME_WAIT, `tcp_tw_reuse`),
 *   `PAWSTimewait` (a SYN a TIME_WAIT refused for its old timestamp: the
 *   client's SYN is resent a second later), `TCPTimeWaitOverflow` (a
 *   TIME_WAIT not kept, the table full), `TCPReqQFullDrop` and
 *   `SyncookiesSent` (a SYN dropped, or answered with a cookie, on a full
 *   SYN queue).
 * - `timeWaits`: the connections in TIME_WAIT on a port, by side — the
 *   service's (it closed first) and the clients' (they did).
 * - `acceptQueue`: the listening sockets' accept queues (`ss`'s Recv-Q for
 *   a listener: connections the kernel completed and the service has not
 *   yet accepted; summed over the sockets sharing the port, `Acceptors`),
 *   sampled every `everyMillis` by one helper process: a queue that
 *   stays above 0 for long is a service not accepting.
 */
import { execFile, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))

/** The TcpExt counters `tcpCounters` reads, in the order they are shown. */
export const counterNames = [
  "ListenOverflows",
  "ListenDrops",
  "TCPBacklogDrop",
  "TCPTimeouts",
  "TCPSynRetrans",
  "TCPLossProbes",
  "TWRecycled",
  "PAWSTimewait",
  "TCPTimeWaitOverflow",
  "TCPReqQFullDrop",
  "SyncookiesSent"
] as const

/** Each counter's short name in an interval's cell, in `counterNames`' order. */
export const counterShortNames = ["ovf", "drop", "bklog", "rto", "syn", "tlp", "twre", "paws", "twovf", "reqq", "cookie"] as const

/** A reading of `counterNames` (each NaN when the kernel has none). */
export type TcpCounters = Record<(typeof counterNames)[number], number>

/** The namespace's TcpExt counters so far (see the module's note); NaN for one `/proc/net/netstat` lacks. */
export const tcpCounters = (): TcpCounters => {
  let names: Array<string> = []
  let values: Array<string> = []
  try {
    // Pairs of lines: `TcpExt: names…` then `TcpExt: values…`.
    const lines = readFileSync("/proc/net/netstat", "utf8").split("\n").filter((line) => line.startsWith("TcpExt:"))
    names = lines[0]?.split(" ") ?? []
    values = lines[1]?.split(" ") ?? []
  } catch {
    // No /proc/net/netstat: every counter NaN.
  }
  const read = (name: string) => {
    const at = names.indexOf(name)
    return at === -1 || values[at] === undefined ? Number.NaN : Number(values[at])
  }
  return Object.fromEntries(counterNames.map((name) => [name, read(name)])) as TcpCounters
}

/** Each counter's increase from `before` to `after`. */
export const counterDelta = (before: TcpCounters, after: TcpCounters): TcpCounters =>
  Object.fromEntries(counterNames.map((name) => [name, after[name] - before[name]])) as TcpCounters

/** The accept queue's samples since the last `take`: the longest, the mean, and the share of samples above 0. */
export interface AcceptQueue {
  readonly samples: number
  readonly max: number
  readonly mean: number
  readonly nonEmpty: number
}

/**
 * Samples the accept queues of the listeners on 127.0.0.1:`port` every
 * `everyMillis` until `stop`; `take` returns the samples since the last take.
 * One process samples them all (`_load-acceptq.py`: one netlink socket kept
 * open, the kernel's answer `ss` prints), not an `ss` per sample: that cost
 * ~20 ms of CPU each (this process's fork and `ss`'s own start), a fifth of
 * a core at ten a second, taken from the service being measured. Without
 * `python3` it falls back to an `ss` per sample (one at a time: a sample due
 * while one runs is skipped).
 */
export const acceptQueue = (port: number, everyMillis: number) => {
  let queued: Array<number> = []
  let timer: ReturnType<typeof setInterval> | undefined
  const bySs = () => {
    let busy = false
    timer = setInterval(() => {
      if (busy) return
      busy = true
      // A listener's Recv-Q is its accept queue; `-H` drops the header, the filter keeps the service's listeners.
      execFile("ss", ["-ltnH", `sport = :${port}`], (error, stdout) => {
        busy = false
        if (error !== null) return
        const depth = stdout.split("\n").filter((line) => line.trim() !== "")
          .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[1]), 0)
        if (Number.isFinite(depth)) queued.push(depth)
      })
    }, everyMillis)
  }
  const sampler = spawn("python3", [join(here, "_load-acceptq.py"), String(port), String(everyMillis)], {
    stdio: ["ignore", "pipe", "ignore"]
  })
  sampler.once("error", bySs)
  createInterface({ input: sampler.stdout }).on("line", (line) => {
    const depth = Number(line)
    if (Number.isFinite(depth)) queued.push(depth)
  })
  return {
    take: (): AcceptQueue => {
      const taken = queued
      queued = []
      return {
        samples: taken.length,
        max: taken.reduce((m, d) => Math.max(m, d), 0),
        mean: taken.length === 0 ? 0 : taken.reduce((s, d) => s + d, 0) / taken.length,
        nonEmpty: taken.length === 0 ? 0 : taken.filter((d) => d > 0).length / taken.length
      }
    },
    stop: () => {
      if (timer !== undefined) clearInterval(timer)
      sampler.kill()
    }
  }
}

/** Connections in TIME_WAIT on a port: on the service's side (it closed first) and on its clients' (they did). */
export interface TimeWaits {
  readonly service: number
  readonly clients: number
}

/**
 * The connections in TIME_WAIT to or from 127.0.0.1:`port` now, by side
 * (`ss`, read asynchronously); NaN each when `ss` fails.
 */
export const timeWaits = (port: number): Promise<TimeWaits> =>
  new Promise((resolve) => {
    execFile("ss", ["-tanH", "state", "time-wait", `( sport = :${port} or dport = :${port} )`], { maxBuffer: 64 * 2 ** 20 }, (error, stdout) => {
      if (error !== null) return resolve({ service: Number.NaN, clients: Number.NaN })
      let service = 0
      let clients = 0
      for (const line of stdout.split("\n")) {
        // Without a state column (one state asked): Recv-Q, Send-Q, local address:port, peer address:port.
        const local = line.trim().split(/\s+/)[2]
        if (local === undefined) continue
        if (local.endsWith(`:${port}`)) service++
        else clients++
      }
      resolve({ service, clients })
    })
  })
