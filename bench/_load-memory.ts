/**
 * What the service's resident memory is made of, for `bench/load.ts`, read
 * from Linux's `/proc` without asking the service: a growing RSS over a flat
 * V8 heap is somewhere else, and these parts say where.
 *
 * - `malloc`: the C heap — the main arena (`[heap]`, grown by `brk`: the
 *   main thread's, given back only from its top, `mainArena`) and the
 *   arenas glibc gives other threads (anonymous mappings of up to 64 MB
 *   starting on a 64-MB boundary, as glibc places them). Native objects live
 *   here: sockets' and HTTP parsers' state, SQLite's page cache and
 *   statements, small buffers. Growth here over a flat heap is native
 *   objects kept alive, or the allocator's fragmentation (freed memory it
 *   cannot give back).
 * - `anon`: every other anonymous mapping — the V8 heaps (their committed
 *   pages: the main isolate's `heapTotal`, and the SQLite worker's), large
 *   buffers, thread stacks. Of it, `v8Pages`: the mappings of exactly 256 KB,
 *   V8's regular heap pages (each mapped on its own, at an address V8 picks
 *   at random, so neighbours rarely merge into one mapping), and how many.
 *   Under the load mix their count follows the heap's size: 1,041 → 2,114
 *   of them while the heap grew 284 MB (a 120-s run, session 19).
 * - `file`: mapped files (the node binary, libraries, SQLite's shared memory).
 */
import { readFileSync } from "node:fs"

/** The resident parts of a process (bytes): see the module's note. */
export interface MemoryParts {
  readonly rss: number
  readonly malloc: number
  /** Of `malloc`, the main arena (`[heap]`, grown by `brk`): the main thread's C heap, which glibc gives back only from its top. */
  readonly mainArena: number
  readonly anon: number
  /** Of `anon`, the 256-KB mappings: V8's heap pages. */
  readonly v8Pages: number
  /** How many such mappings. */
  readonly v8PageCount: number
  readonly file: number
}

/** V8's regular heap page (`kRegularPageSize`). */
const v8PageSize = 256 * 2 ** 10

/** glibc's largest arena heap for a thread, and the boundary it aligns them on. */
const arenaSize = 64 * 2 ** 20

/** The resident parts of process `pid` from its `smaps`, or undefined when it cannot be read (the process is gone). */
export const memoryParts = (pid: number): MemoryParts | undefined => {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/smaps`, "utf8")
  } catch {
    return undefined
  }
  let malloc = 0
  let mainArena = 0
  let anon = 0
  let v8Pages = 0
  let v8PageCount = 0
  let file = 0
  let part: "main" | "malloc" | "anon" | "v8" | "file" = "anon"
  for (const line of text.split("\n")) {
    // A mapping's header: `start-end perms offset dev inode [path]`; its `Rss:` line follows.
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (header !== null) {
      const start = Number.parseInt(header[1], 16)
      const size = Number.parseInt(header[2], 16) - start
      const path = header[4]
      part = path === "[heap]"
        ? "main"
        : path === "" && header[3] === "rw-p" && start % arenaSize === 0 && size <= arenaSize
        ? "malloc"
        : path === "" && size === v8PageSize
        ? "v8"
        : path === "" || path.startsWith("[")
        ? "anon"
        : "file"
      continue
    }
    if (line.startsWith("Rss:")) {
      const bytes = Number(line.split(/\s+/)[1]) * 1024
      if (part === "main") {
        malloc += bytes
        mainArena += bytes
      } else if (part === "malloc") malloc += bytes
      else if (part === "v8") {
        anon += bytes
        v8Pages += bytes
        v8PageCount++
      } else if (part === "anon") anon += bytes
      else file += bytes
    }
  }
  return { rss: malloc + anon + file, malloc, mainArena, anon, v8Pages, v8PageCount, file }
}


/** CPU seconds process `pid` has used (user + system), from `/proc`. */
export const cpuOf = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
  // utime and stime are the 12th and 13th fields after the command, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100
}
