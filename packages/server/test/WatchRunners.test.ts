/**
 * Watchers in runner mode: two `chainjobs serve --runner` child processes on
 * one PostgreSQL database and one Hardhat node. The watcher's loop runs on one
 * runner at a time (one `chainjobs.watch.loop` task in the cluster), and live
 * transfers to the watched account are each processed exactly once.
 * Skipped without `CHAINJOBS_TEST_PG_URL`.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import { createTestClient, createWalletClient, http, parseEther } from "viem"
import { DevChain } from "@chainjobs/devchain"
import { freshDatabase } from "./freshDatabase.ts"

const pgUrl = process.env.CHAINJOBS_TEST_PG_URL
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const watched = DevChain.accounts[3]!.address.toLowerCase()
const TRANSFERS = 6

/** A TCP port free right now, for a runner's transport. */
const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { readonly port: number }).port
      server.close(() => resolve(port))
    })
  }))

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
            CHAINJOBS_WATCH_POLL_INTERVAL: "200 millis"
          }
        })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    return yield* listening(child)
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

/** Retries `read` until `check` holds (the test's timeout bounds the wait). */
const eventually = <A>(read: Effect.Effect<A>, check: (a: A) => boolean) =>
  read.pipe(
    Effect.flatMap((a) => check(a) ? Effect.succeed(a) : Effect.fail("not yet" as const)),
    Effect.retry(Schedule.spaced("250 millis"))
  )

describe.skipIf(pgUrl === undefined)("watchers in runner mode", () => {
  layer(DevChain.layer(), { excludeTestServices: true, timeout: "180 seconds" })("two runners on one database", (it) => {
    it.effect("each watcher's loop runs once in the cluster, and every live transfer is processed exactly once", () =>
      Effect.gen(function*() {
        const chain = yield* DevChain.DevChain
        const databaseUrl = yield* freshDatabase(pgUrl ?? "", "watch_runners")
        // one after the other: the first makes the tables
        const first = yield* runner(databaseUrl, chain.url)
        const second = yield* runner(databaseUrl, chain.url)
        const wallet = createWalletClient({ transport: http(chain.url) })
        const tester = createTestClient({ transport: http(chain.url), mode: "hardhat" })
        const hashes: Array<string> = []
        for (let i = 0; i < TRANSFERS; i++) {
          const from = DevChain.accounts[10 + i]!.address
          hashes.push(yield* Effect.promise(() =>
            wallet.sendTransaction({ account: from, to: watched as `0x${string}`, value: parseEther("1"), chain: null })
          ))
          yield* Effect.sleep("300 millis")
        }
        yield* Effect.promise(() => tester.mine({ blocks: 2 }))
        const items = yield* eventually(
          getJson(`${first}/api/watch/watchers/deposits/items`),
          (items: Array<any>) => items.filter((item) => item.status === "processed").length >= TRANSFERS
        )
        assert.deepStrictEqual(items.map((item) => item.item.transaction).sort(), [...hashes].sort())
        // every runner reads the same items
        assert.deepStrictEqual((yield* getJson(`${second}/api/watch/watchers/deposits/items`)).map((item: any) => item.id), items.map((item) => item.id))
        // one processing task per item, wherever it ran
        const processing = yield* getJson(`${second}/api/tasks?kind=chainjobs.watch.record&limit=100`)
        assert.strictEqual(processing.items.length, TRANSFERS)
        assert.strictEqual(new Set(processing.items.map((task: any) => task.key)).size, TRANSFERS)
        // the watcher's loop: one task running in the whole cluster
        const loops = yield* getJson(`${first}/api/tasks?kind=chainjobs.watch.loop&status=running&limit=100`)
        assert.strictEqual(loops.items.length, 1)
      }).pipe(Effect.scoped), 180_000)
  })
})
