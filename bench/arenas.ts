/**
 * `npm run bench -- arenas`: what the service's C heap (glibc's `malloc`
 * arenas: native objects, `Buffer` memory, SQLite) holds and how it grows
 * per unit of work, with glibc's default arenas beside `MALLOC_ARENA_MAX=2`
 * — issue 17's load left an RSS slope whose larger part was the C heap.
 *
 * Two services (`chainjobs serve`, SQLite, `--max-workers 300`), alike but
 * for `MALLOC_ARENA_MAX`, are driven in turn by the same client, in
 * alternating phases of equal work: each phase submits `--tasks=` (default
 * 2,000) `demo-scan` tasks of about 200 ms, `--at-once=` (40) at a time, and
 * for each opens `--streams=` (3) event streams of it on new connections,
 * read to its end (`_load-sse.ts`), and one status read on a new connection
 * — so the figures are per task and per connection, whatever share of the
 * processor the machine gives the services. After a warm-up phase of each,
 * every phase's end reads each service's memory parts from `/proc`
 * (`_load-memory.ts`); `--phases=` (4) phases. Prints each phase's C heap
 * and other anonymous memory (the V8 heaps, mostly) per service, and the C
 * heap's growth per 1,000 tasks after the warm-up, with the load average.
 *
 * `--pair=store` compares the task store instead, both with glibc's default
 * arenas: the SQLite file (its worker thread, page cache and statements in
 * the C heap) beside the memory store (`--data-dir :memory:`), to tell
 * whether the C heap's growth is SQLite's.
 *
 * `--pair=src --base=DIR` compares the server's code instead: `DIR` holds a
 * copy of `packages/server/src` (placed inside `packages/server`, so that its
 * imports resolve as the original's), run beside this tree's — an A/B of a
 * change in one run. Every phase also prints each service's CPU per task
 * (its run, its submission and its connections; from `/proc`), and the
 * summary the median over the phases after the warm-up.
 *
 * `--reads=N` measures the service's CPU per new connection instead of per
 * task (with `--pair=src`, the A/B of a change to the hot reads): the
 * warm-up submits `--tasks=` tasks and follows them to their end, and starts
 * `--at-once=` tasks that run for the whole bench; then each phase makes, on
 * each service in turn, N status reads of a running task, N of a finished
 * one and N event streams of a finished task read to their end, each on a
 * new connection, `--at-once=` at a time, and prints the service's CPU per
 * read of each kind (from `/proc`, so at 10-ms resolution: N of 1,000 or
 * more), and the medians over the phases.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { Agent, request } from "node:http"
import { loadavg, tmpdir } from "node:os"
import { dirname, join, resolve as resolvePath } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { cpuOf, memoryParts } from "./_load-memory.ts"
import * as Sse from "./_load-sse.ts"
import { fmt, table } from "./_measure.ts"

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const flag = (name: string, fallback: number) => {
  const value = Number(args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3))
  return Number.isFinite(value) && value > 0 ? value : fallback
}
const tasks = flag("tasks", 2000)
const atOnce = flag("at-once", 40)
const streams = flag("streams", 3)
const phases = flag("phases", 4)
/** With `--reads=`: reads of each kind per phase, and the bench measures CPU per new connection (0: per task). */
const reads = flag("reads", 0)
/**
 * What the two services differ in: `arenas` (glibc's default against `MALLOC_ARENA_MAX=2`), `store` (SQLite file
 * against memory) or `src` (the server's code in `--base=` against this tree's).
 */
const pair = (() => {
  const named = args.find((arg) => arg.startsWith("--pair="))?.slice("--pair=".length)
  return named === "store" || named === "src" ? named : "arenas"
})()
/** With `--pair=src`: a copy of `packages/server/src` to run beside this tree's (its `main.ts` started). */
const base = args.find((arg) => arg.startsWith("--base="))?.slice("--base=".length)
if (pair === "src" && base === undefined) {
  console.error("arenas --pair=src needs --base=DIR: a copy of packages/server/src (inside packages/server, so that its imports resolve)")
  process.exit(2)
}

/** One service under test: its process, base URL and the keep-alive pool its submissions go over. */
interface Service {
  readonly label: string
  readonly child: ChildProcess
  readonly dataDir: string
  readonly host: string
  readonly port: number
  readonly pool: Agent
}

/**
 * Every service spawned, from its spawn on: all are stopped when the bench exits, however it exits — a start that
 * fails (the second service's, say) must not leave the first running.
 */
const spawned: Array<{ readonly child: ChildProcess; readonly dataDir: string }> = []
/** The services' connection pools, closed with them. */
const pools: Array<Agent> = []
const stop = () => {
  for (const { child, dataDir } of spawned) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    rmSync(dataDir, { recursive: true, force: true })
  }
  for (const pool of pools) pool.destroy()
}
process.on("exit", stop)
// Interrupted: exit (128 + the signal's number, as a shell reports it), so that the handler above stops the services.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(signal === "SIGINT" ? 130 : 143))

/**
 * Starts a service with `env` over the environment (its tasks in memory if `inMemory`; its code in `src`, by default
 * this tree's), resolving once it listens.
 */
const start = async (
  label: string,
  env: Record<string, string>,
  inMemory = false,
  src = join(here, "..", "packages", "server", "src")
): Promise<Service> => {
  const dataDir = mkdtempSync(join(tmpdir(), "chainjobs-arenas-"))
  const child = spawn(
    process.execPath,
    [join(src, "main.ts"), "serve", "--port", "0", "--data-dir", inMemory ? ":memory:" : dataDir, "--max-workers", "300", "--dev-chain", "false"],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } }
  )
  spawned.push({ child, dataDir })
  const base = await new Promise<URL>((resolve, reject) => {
    // Every line is read (its log included), so the service never blocks on a full pipe.
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line)
      if (match !== null) resolve(new URL(match[1]))
    })
    child.once("exit", (code) => reject(new Error(`the ${label} service exited (${code}) before listening`)))
  })
  const pool = new Agent({ keepAlive: true, maxSockets: 64 })
  pools.push(pool)
  return { label, child, dataDir, host: base.hostname, port: Number(base.port), pool }
}

/** A task of about 200 ms: four blocks 50 ms apart. */
const shortTask = { fromBlock: 1, toBlock: 4, delayMillis: 50 }
/** A task that outlasts the bench: a hundred blocks a minute apart. */
const longTask = { fromBlock: 1, toBlock: 100, delayMillis: 60_000 }

/**
 * Submits one task (`shortTask` unless another payload is given), resolving with its id; a request reset on a
 * kept-alive socket the service had just closed is sent again once.
 */
const submit = (service: Service, retried = false, payload = shortTask): Promise<string> =>
  new Promise((resolve, reject) => {
    const body = JSON.stringify(payload)
    const req = request({
      host: service.host,
      port: service.port,
      path: "/api/tasks/demo-scan",
      method: "POST",
      agent: service.pool,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
    }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => text += chunk)
      response.on("end", () => response.statusCode === 202 ? resolve(JSON.parse(text).taskId) : reject(new Error(`submit: ${response.statusCode} ${text}`)))
    })
    req.on("error", (error) => req.reusedSocket && !retried ? submit(service, true, payload).then(resolve, reject) : reject(error))
    req.end(body)
  })

/** Reads the task's event stream to its end on a new connection. */
const follow = async (service: Service, id: string) => {
  const outcome = await Sse.open(service.host, service.port, `/api/tasks/${id}/events`, {}, () => {}, 60_000).done
  if (outcome._tag !== "ended") throw new Error(`stream: ${JSON.stringify(outcome)}`)
}

/** Reads the task's record on a new connection. */
const status = (service: Service, id: string) =>
  new Promise<void>((resolve, reject) => {
    const req = request({ host: service.host, port: service.port, path: `/api/tasks/${id}`, agent: false }, (response) => {
      response.resume()
      response.on("end", () => response.statusCode === 200 ? resolve() : reject(new Error(`status: ${response.statusCode}`)))
    })
    req.on("error", reject)
    req.end()
  })

/** One phase of work on `service`: `tasks` submissions, each followed by its streams and a status read, `atOnce` at a time. */
const phase = async (service: Service) => {
  let next = 0
  await Promise.all(Array.from({ length: atOnce }, async () => {
    while (next++ < tasks) {
      const id = await submit(service)
      await Promise.all([...Array.from({ length: streams }, () => follow(service, id)), status(service, id)])
    }
  }))
}

/** The middle value (the upper of the two middle ones for an even count). */
const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** The tasks each service's reads are of (`--reads=`): finished ones, and ones running for the whole bench. */
const readTasks = new Map<Service, { readonly finished: Array<string>; readonly running: Array<string> }>()

/** The warm-up of `--reads=`: `tasks` tasks followed to their end, and `atOnce` started that outlast the bench. */
const prepareReads = async (service: Service) => {
  const finished: Array<string> = []
  let next = 0
  await Promise.all(Array.from({ length: atOnce }, async () => {
    while (next++ < tasks) {
      const id = await submit(service)
      await follow(service, id)
      finished.push(id)
    }
  }))
  const running = await Promise.all(Array.from({ length: atOnce }, () => submit(service, false, longTask)))
  readTasks.set(service, { finished, running })
}

/** The kinds of read `--reads=` measures, each on a new connection. */
const readKinds = [
  { name: "status, running", read: (service: Service, n: number) => status(service, readTasks.get(service)!.running[n % atOnce]) },
  { name: "status, finished", read: (service: Service, n: number) => status(service, pick(readTasks.get(service)!.finished, n)) },
  { name: "stream, finished", read: (service: Service, n: number) => follow(service, pick(readTasks.get(service)!.finished, n)) }
] as const

/** The `n`th of `ids`, spread over them. */
const pick = (ids: ReadonlyArray<string>, n: number) => ids[(n * 7919) % ids.length]

/** The service's CPU per read (µs) of each kind: `reads` of it, `atOnce` at a time. */
const readPhase = async (service: Service): Promise<Array<number>> => {
  const perRead: Array<number> = []
  for (const kind of readKinds) {
    const before = cpuOf(service.child.pid!)
    let next = 0
    await Promise.all(Array.from({ length: atOnce }, async () => {
      while (next < reads) await kind.read(service, next++)
    }))
    perRead.push((cpuOf(service.child.pid!) - before) / reads * 1e6)
  }
  return perRead
}

const services = pair === "store"
  ? [await start("SQLite file", {}), await start("memory store", {}, true)]
  : pair === "src"
  ? [await start(`server code in ${base}`, {}, false, resolvePath(base!)), await start("this tree's server code", {})]
  : [await start("glibc's default arenas", {}), await start("MALLOC_ARENA_MAX=2", { MALLOC_ARENA_MAX: "2" })]

if (reads > 0) {
  console.log(
    `arenas --reads: ${reads} reads of each kind per phase on new connections, ${atOnce} at once; ` +
      `a warm-up of ${tasks} finished and ${atOnce} running tasks per service, then ${phases} phases of each service in turn`
  )
  for (const service of services) await prepareReads(service)
  const rows: Array<Array<string>> = [[
    "phase",
    ...services.flatMap((s) => readKinds.map((kind, k) => `${k === 0 ? `${s.label}: ` : ""}${kind.name} µs`)),
    "load average"
  ]]
  const perRead: Array<Array<Array<number>>> = services.map(() => readKinds.map(() => []))
  for (let p = 0; p <= phases; p++) {
    const row = [p === 0 ? "warm-up" : String(p)]
    for (const [i, service] of services.entries()) {
      const figures = await readPhase(service)
      if (p > 0) figures.forEach((figure, k) => perRead[i][k].push(figure))
      row.push(...figures.map((figure) => fmt(figure)))
    }
    row.push(loadavg().map((l) => l.toFixed(1)).join(" "))
    rows.push(row)
  }
  table(rows)
  for (const [i, service] of services.entries()) {
    console.log(
      `${service.label}: service CPU per read, median (least) of the phases after warm-up (µs): ` +
        readKinds.map((kind, k) => `${kind.name} ${fmt(median(perRead[i][k]))} (${fmt(Math.min(...perRead[i][k]))})`).join("; ")
    )
  }
  // The exit handler stops the services.
  process.exit(0)
}

console.log(
  `arenas: ${tasks} tasks per phase, ${atOnce} at once, each with ${streams} event streams and a status read on new connections; ` +
    `a warm-up phase, then ${phases} phases of each service in turn`
)
const mb = (bytes: number) => fmt(bytes / 2 ** 20, 1)
const rows: Array<Array<string>> = [[
  "phase",
  ...services.flatMap((s) => [`${s.label}: C heap MB`, "other anon MB", "CPU µs per task"]),
  "load average"
]]
/** Each service's C heap after each phase (bytes). */
const heaps: Array<Array<number>> = services.map(() => [])
/** Each service's CPU per task in each phase after the warm-up (µs): the task's run, its submission and its connections. */
const cpus: Array<Array<number>> = services.map(() => [])
for (let p = 0; p <= phases; p++) {
  const row = [p === 0 ? "warm-up" : String(p)]
  for (const [i, service] of services.entries()) {
    const before = cpuOf(service.child.pid!)
    await phase(service)
    const perTask = (cpuOf(service.child.pid!) - before) / tasks * 1e6
    if (p > 0) cpus[i].push(perTask)
    const parts = memoryParts(service.child.pid!)
    heaps[i].push(parts?.malloc ?? Number.NaN)
    row.push(mb(parts?.malloc ?? Number.NaN), mb(parts?.anon ?? Number.NaN), fmt(perTask))
  }
  row.push(loadavg().map((l) => l.toFixed(1)).join(" "))
  rows.push(row)
}
table(rows)
const perThousand = (heap: ReadonlyArray<number>) => ((heap[heap.length - 1] - heap[0]) / 2 ** 20) / ((phases * tasks) / 1000)
console.log(
  `C heap growth after warm-up, MB per 1,000 tasks (${streams + 1} new connections each): ` +
    services.map((service, i) => `${service.label} ${fmt(perThousand(heaps[i]), 2)}`).join("; ")
)
console.log(
  `service CPU per task after warm-up (its run, its submission, ${streams + 1} new connections), median of the phases (µs): ` +
    services.map((service, i) => `${service.label} ${fmt(median(cpus[i]))}`).join("; ")
)
// The exit handler stops the services.
process.exit(0)
