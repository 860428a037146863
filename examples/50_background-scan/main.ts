/**
 * A background wallet scan as a service runs it: the scan heartbeats while it
 * waits for blocks, a second scan of the same wallets is refused while it
 * runs, a task that stops heartbeating is detected and failed, and a worker
 * process stopped with SIGTERM drains: its unfinished scan is stored back,
 * with its checkpoint, for the next start.
 *
 * `main.ts worker <chain url> <database file>` is that worker process.
 */
import { NodeRuntime } from "@effect/platform-node"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Console, Effect, Layer, Option, Schema, Stream } from "effect"
import { BlockFeed, ChainConfig, Chains, ChainTasks } from "@chainjobs/chain"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { Task, TaskStore, Tasks } from "@chainjobs/tasks"

/** A task that hangs: it never reports progress or a heartbeat. */
const Hung = Task.define("example/hung", {
  payload: Schema.Struct({}),
  success: Schema.Void,
  policy: { heartbeatTimeout: "500 millis" }
})

/** The worker process: scans wallets up to a block far past the head, until SIGTERM. */
const worker = (url: string, filename: string, wallet: string) => {
  const program = Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const client = yield* (yield* Chains.Chains).client("dev")
    const head = yield* client.head
    const scan = yield* tasks.submit(ChainTasks.ScanAddresses, {
      chain: "dev",
      addresses: [wallet],
      fromBlock: 0,
      toBlock: head + 1000,
      chunkSize: 5,
      confirmations: 1,
      pollMillis: 50
    })
    yield* scan.events.pipe(Stream.takeUntil((info) => info.progress > 0), Stream.runDrain)
    yield* Console.log(`worker: scanning ${scan.id}`)
    return yield* Effect.never
  })
  const runtime = ChainTasks.layer.pipe(
    Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: "200 millis" })),
    Layer.provideMerge(SqlTaskStore.layerSqlite({ filename })),
    Layer.provideMerge(Chains.layerMemory([
      ChainConfig.chain({ name: "dev", chainId: DevChain.chainId, endpoints: [{ url }], headTtl: "50 millis" })
    ])),
    Layer.provideMerge(BlockFeed.layerMemory)
  )
  NodeRuntime.runMain(program.pipe(Effect.provide(runtime)))
}

/** Starts the worker, stops it with SIGTERM once it scans, and gives the scan's id and the worker's exit code. */
const runWorker = (url: string, filename: string, wallet: string) =>
  Effect.callback<{ readonly id: string; readonly code: number | null }>((resume) => {
    const child = spawn(process.execPath, [import.meta.filename, "worker", url, filename, wallet], { stdio: ["ignore", "pipe", "inherit"] })
    let id = ""
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      const match = /worker: scanning (\S+)/.exec(text)
      if (match !== null && id === "") {
        id = match[1]!
        child.kill("SIGTERM")
      }
    })
    child.on("exit", (code, signal) => resume(Effect.succeed({ id, code: code ?? (signal === "SIGTERM" ? 143 : null) })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const program = Effect.gen(function*() {
  const chain = yield* DevChain.DevChain
  yield* Console.log(`dev chain up on 127.0.0.1 (chain id ${chain.chainId})`)
  const seeded = yield* DevSeed.seed({ rounds: 10 })
  const wallets = [seeded.participants[1]!, seeded.participants[2]!]
  const tasks = yield* Tasks.Tasks
  const client = yield* (yield* Chains.Chains).client("dev")

  // a background scan up to three blocks not mined yet: it heartbeats while it waits for them
  const scan = yield* tasks.submit(ChainTasks.ScanAddresses, {
    chain: "dev",
    addresses: wallets,
    fromBlock: seeded.fromBlock,
    toBlock: seeded.toBlock + 3,
    chunkSize: 5,
    confirmations: 1,
    pollMillis: 50
  })
  yield* Console.log("scan submitted in the background")
  const refused = yield* Effect.flip(tasks.submit(ChainTasks.ScanAddresses, {
    chain: "dev",
    addresses: [...wallets].reverse(),
    fromBlock: seeded.fromBlock,
    toBlock: seeded.toBlock
  }))
  yield* Console.log(
    `second scan of the same wallets: ${refused._tag} (${refused._tag === "SubmitRejected" ? refused.reason : ""}), ` +
      `held by the first: ${refused._tag === "SubmitRejected" && refused.holder === scan.id}`
  )
  yield* client.request("hardhat_mine", ["0x3"])
  const { activity } = yield* scan.join
  const expected = DevSeed.expectedFor(seeded, wallets)
  yield* Console.log(
    `first scan completed; exactly the seeded activity: ${
      activity.length === expected.length && activity.every((item, i) => item.transactionHash === expected[i]!.transactionHash)
    }`
  )

  const hung = yield* tasks.submit(Hung, {})
  const aborted = yield* Effect.flip(hung.join)
  yield* Console.log(`hung task detected: ${aborted._tag === "TaskAborted" ? aborted.reason : aborted._tag}`)

  const directory = mkdtempSync(join(tmpdir(), "chainjobs-example-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(directory, { recursive: true, force: true })))
  const filename = join(directory, "tasks.db")
  const stopped = yield* runWorker(chain.url, filename, wallets[0])
  yield* Console.log(`worker stopped by SIGTERM: ${stopped.code === 0 ? "it went on" : "it drained and exited"}`)
  const stored = yield* Effect.scoped(
    TaskStore.TaskStore.use((store) => store.get(stopped.id)).pipe(
      Effect.provide(SqlTaskStore.layerSqlite({ filename }))
    )
  )
  const info = Option.getOrThrow(stored)
  yield* Console.log(`its scan, stored back for the next start: ${info.status}, checkpoint kept: ${info.checkpoint !== null}`)
})

const Runtime = Layer.mergeAll(ChainTasks.layer, Task.implement(Hung, () => Effect.never)).pipe(
  Layer.provideMerge(Tasks.layer({ heartbeatCheckInterval: "100 millis" })),
  Layer.provideMerge(TaskStore.layerMemory),
  Layer.provideMerge(DevChain.layerChains()),
  Layer.provideMerge(BlockFeed.layerMemory)
)

if (process.argv[2] === "worker") worker(process.argv[3]!, process.argv[4]!, process.argv[5]!)
else NodeRuntime.runMain(Effect.scoped(program).pipe(Effect.provide(Runtime)))
