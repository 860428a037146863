/**
 * Watchers in runner mode: two `chainjobs serve --runner` child processes on
 * one PostgreSQL database and one Hardhat node. The watcher's loop runs on one
 * runner at a time (one `chainjobs.watch.loop` task in the cluster), live
 * transfers to the watched account are each processed exactly once, and when
 * the runner running the loop is killed the other restarts it and goes on.
 * Either runner answers the watcher's lag as the loop saw it.
 * Skipped without `CHAINJOBS_TEST_PG_URL`.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { createPublicClient, createTestClient, createWalletClient, http, parseEther } from "viem"
import { DevChain } from "@chainjobs/devchain"
import { freePort } from "@chainjobs/tasks/test/ports"
import { freshDatabase } from "./freshDatabase.ts"

const pgUrl = process.env.CHAINJOBS_TEST_PG_URL
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const watched = DevChain.accounts[3]!.address.toLowerCase()
const TRANSFERS = 6

/**
 * Where each runner's output is kept (`runner-<transport port>.log`), when `WATCH_RUNNERS_LOGS` names a directory: a
 * failover that goes wrong is read from the runners' own logs (their shard changes, adoptions, daemon restarts).
 */
const logDir = process.env.WATCH_RUNNERS_LOGS

/** Copies `child`'s stdout and stderr into its file under `logDir`, if set. */
const keepOutput = (child: ChildProcess, runnerPort: number) => {
  if (logDir === undefined) return
  mkdirSync(logDir, { recursive: true })
  const out = createWriteStream(`${logDir}/runner-${runnerPort}.log`)
  child.stdout!.on("data", (chunk) => out.write(chunk))
  child.stderr!.on("data", (chunk) => out.write(chunk))
  child.once("close", () => out.end())
}

/** `chainjobs serve` as a runner of the cluster on `databaseUrl`, watching the chain at `chainUrl`; killed when the scope closes. */
const runner = (databaseUrl: string, chainUrl: string) =>
  Effect.gen(function*() {
    const runnerPort = yield* freePort
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [main, "serve", "--port", "0"], {
          stdio: ["ignore", "pipe", "pipe"],
          env: {
            ...process.env,
            CHAINJOBS_RUNNER: "true",
            CHAINJOBS_RUNNER_PORT: String(runnerPort),
            CHAINJOBS_DATABASE_URL: databaseUrl,
            CHAINJOBS_DEV_CHAIN: "false",
            CHAINJOBS_CHAINS: JSON.stringify([{ name: "dev", chainId: DevChain.chainId, endpoints: [{ url: chainUrl }], headTtlMillis: 0 }]),
            CHAINJOBS_WATCHERS: JSON.stringify([{ name: "deposits", chain: "dev", processor: "chainjobs.watch.record", accounts: [watched], confirmations: 1 }]),
            CHAINJOBS_WATCH_POLL_INTERVAL: "200 millis",
            // a dead runner's shards move after this long
            CHAINJOBS_RUNNER_LOCK_EXPIRATION: "3 seconds"
          }
        })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    keepOutput(child, runnerPort)
    return { url: yield* listening(child), address: `127.0.0.1:${runnerPort}`, child }
  })

/** The base URL the child prints once it listens. */
const listening = (child: ChildProcess) =>
  Effect.callback<string, Error>((resume) => {
    let output = ""
    const collect = (chunk: unknown) => {
      output += String(chunk)
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match !== null) resume(Effect.succeed(match[1]!))
    }
    child.stdout!.on("data", collect)
    child.stderr!.on("data", (chunk) => void (output += String(chunk)))
    child.once("exit", (code) => resume(Effect.fail(new Error(`the runner exited (${code}) before listening: ${output}`))))
  })

const getJson = (url: string) => Effect.promise(() => fetch(url).then((response) => response.json() as Promise<any>))

/** Retries `read` until `check` holds; after 60 s it fails, saying what it waited for and what it last read. */
const eventually = <A>(what: string, read: Effect.Effect<A>, check: (a: A) => boolean) => {
  let last: A | undefined
  return read.pipe(
    Effect.flatMap((a) => {
      last = a
      return check(a) ? Effect.succeed(a) : Effect.fail("not yet" as const)
    }),
    Effect.retry(Schedule.spaced("250 millis")),
    Effect.timeoutOrElse({
      duration: "60 seconds",
      orElse: () => Effect.die(new Error(`${what}: not seen in 60 s; last read ${JSON.stringify(last)?.slice(0, 4000)}`))
    })
  )
}

describe.skipIf(pgUrl === undefined)("watchers in runner mode", () => {
  layer(DevChain.layer(), { excludeTestServices: true, timeout: "180 seconds" })("two runners on one database", (it) => {
    it.effect("each watcher's loop runs once in the cluster, every live transfer is processed exactly once, and a killed runner's loop moves", () =>
      Effect.gen(function*() {
        const chain = yield* DevChain.DevChain
        const databaseUrl = yield* freshDatabase(pgUrl ?? "", "watch_runners")
        // started together on the fresh database: they take turns making the tables
        const runners = yield* Effect.all([runner(databaseUrl, chain.url), runner(databaseUrl, chain.url)], { concurrency: 2 })
        const wallet = createWalletClient({ transport: http(chain.url) })
        const tester = createTestClient({ transport: http(chain.url), mode: "hardhat" })
        const reader = createPublicClient({ transport: http(chain.url) })
        const hashes: Array<string> = []
        const transfer = (from: number) =>
          Effect.gen(function*() {
            hashes.push(yield* Effect.promise(() =>
              wallet.sendTransaction({ account: DevChain.accounts[from]!.address, to: watched as `0x${string}`, value: parseEther("1"), chain: null })
            ))
            yield* Effect.sleep("300 millis")
          })
        /** Every transfer sent is an item processed once, as each live runner reads them; one processing task per item. */
        const allProcessedOnce = (live: ReadonlyArray<{ readonly url: string }>) =>
          Effect.gen(function*() {
            yield* Effect.promise(() => tester.mine({ blocks: 2 }))
            const items = yield* eventually(
              `every transfer processed (${hashes.length})`,
              Effect.map(getJson(`${live[0]!.url}/api/watch/watchers/deposits/items`), (page) => page.items),
              (items: Array<any>) => items.filter((item) => item.status === "processed").length >= hashes.length
            )
            assert.deepStrictEqual(items.map((item) => item.item.transaction).sort(), [...hashes].sort())
            assert.isTrue(items.every((item) => item.status === "processed"))
            for (const other of live.slice(1)) {
              assert.deepStrictEqual((yield* getJson(`${other.url}/api/watch/watchers/deposits/items`)).items.map((item: any) => item.id), items.map((item) => item.id))
            }
            const processing = yield* getJson(`${live[live.length - 1]!.url}/api/tasks?kind=chainjobs.watch.record&limit=100`)
            assert.strictEqual(processing.items.length, hashes.length)
            assert.strictEqual(new Set(processing.items.map((task: any) => task.key)).size, hashes.length)
          })
        /** The tasks running the watcher's loop, as a runner reads them. */
        const loops = (url: string) =>
          Effect.map(getJson(`${url}/api/tasks?kind=chainjobs.watch.loop&status=running&limit=100`), (page) => page.items as Array<any>)

        for (let i = 0; i < TRANSFERS; i++) yield* transfer(10 + i)
        yield* allProcessedOnce(runners)
        // the lag is the loop's whichever runner answers, the one not running it too: the head the loop read last (the
        // chain's, once no block comes), its reorganizations, its last error, when it wrote them
        const chainHead = Number(yield* Effect.promise(() => reader.getBlockNumber()))
        const lags = yield* eventually(
          `the loop's lag at the chain's head ${chainHead}, alike from both runners`,
          Effect.all(runners.map((r) => getJson(`${r.url}/api/watch/watchers/deposits/lag`))),
          (answers) => answers.every((lag) => lag.head === chainHead && JSON.stringify(lag) === JSON.stringify(answers[0]))
        )
        assert.deepInclude(lags[0], { watcher: "deposits", reorgs: 0, lastError: null })
        assert.isNumber(lags[0].observedAt)
        // the watcher's loop: one task running in the whole cluster
        const [loop] = yield* eventually("one loop running", loops(runners[0]!.url), (running) => running.length === 1)
        // the runner running the loop dies; the other restarts the loop and goes on, still once per item
        const dead = runners.find((r) => r.address === loop!.runner) ?? runners[0]!
        const survivor = runners.find((r) => r !== dead)!
        dead.child.kill("SIGKILL")
        for (let i = 0; i < 3; i++) yield* transfer(16 + i)
        yield* allProcessedOnce([survivor])
        const after = yield* eventually("the loop running on the survivor", loops(survivor.url), (running) => running.length === 1 && running[0].runner === survivor.address)
        assert.notStrictEqual(after[0].id, loop!.id)
      }).pipe(Effect.scoped), 180_000)
  })
})
