import { AddressScan, Chains } from "@chainjobs/chain"
import { DevSeed } from "@chainjobs/devchain"
import { NodeSqliteClient } from "@chainjobs/store-sql"
import { assert, layer } from "@effect/vitest"
import { Effect, Random } from "effect"
import { spawn } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as WatchItem from "../src/WatchItem.ts"
import { DevChain, devChainConfig, processedCounts, Record, tempDirectory } from "./fixtures.ts"

const program = fileURLToPath(new URL("./programs/watchProcess.ts", import.meta.url))

/** Runs the watching process; `killAfter` (ms after it started) kills it with SIGKILL, otherwise it runs to `until`. */
const run = (args: ReadonlyArray<string>, killAfter?: number) =>
  Effect.callback<"killed" | "done", Error>((resume) => {
    const child = spawn(process.execPath, [program, ...args], { stdio: ["ignore", "pipe", "inherit"] })
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk
      if (killAfter !== undefined && output.includes("started")) setTimeout(() => child.kill("SIGKILL"), killAfter)
    })
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL") resume(Effect.succeed("killed"))
      else if (code === 0 && output.includes("done")) resume(Effect.succeed("done"))
      else resume(Effect.fail(new Error(`the watching process exited (${signal ?? code}): ${output}`)))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/**
 * The test's time limit. Its cost is nine starts of a watching process (each
 * a fresh node loading the whole runtime) and a 30-round seed: 171 s at load
 * average 28, over 180 s at 29 and 32 (it failed so); a quiet machine takes
 * a fraction. Each run it waits for ends by itself (a kill, or the final
 * process's "done" once every item is processed).
 */
const limit = 480_000

layer(DevChain.layer(), { excludeTestServices: true, timeout: 180_000 })("a watching process killed outright", (it) => {
  it.effect("restarted after SIGKILL at random points during processing, it still processes every item exactly once", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* DevSeed.seed({ rounds: 30, participants: 4, maxGap: 2 })
      const directory = yield* tempDirectory
      const watched = seeded.participants.slice(0, 3)
      const spec = JSON.stringify({
        name: "crash",
        chain: "dev",
        processor: Record.name,
        accounts: watched,
        confirmations: 1,
        startBlock: seeded.fromBlock
      })
      const last = seeded.toBlock - 1
      const scanned = yield* Chains.Chains.use((chains) =>
        Effect.flatMap(chains.client("dev"), (client) => AddressScan.scanRange(client, watched, seeded.fromBlock, last))
      ).pipe(Effect.provide(Chains.layerMemory([devChainConfig(chain.url)]), { local: true }))
      const expected = scanned.map((item) =>
        WatchItem.id({ chain: "dev", transaction: item.transactionHash, position: item.logIndex })
      ).sort()
      const processedSoFar = processedCounts("crash").pipe(
        Effect.provide(NodeSqliteClient.layer({ filename: join(directory, "watch.db") }), { local: true }),
        Effect.orDie
      )

      // killed at random points; at least one kill must land while items are still unprocessed
      let killedMidway = 0
      for (let round = 0; round < 8; round++) {
        const delay = yield* Random.nextIntBetween(0, 900)
        assert.strictEqual(yield* run([directory, chain.url, spec], delay), "killed")
        const counts = yield* processedSoFar
        if (counts.size < expected.length) killedMidway++
      }
      assert.strictEqual(yield* run([directory, chain.url, spec, String(last)]), "done")

      const counts = yield* processedSoFar
      assert.isTrue(killedMidway > 0)
      assert.deepStrictEqual(Array.from(counts.keys()).filter((id) => !expected.includes(id)), [])
      assert.deepStrictEqual(Array.from(counts.keys()).sort(), expected)
      assert.deepStrictEqual(Array.from(counts).filter(([, count]) => count !== 1), [])
    }).pipe(Effect.scoped), limit)
})
