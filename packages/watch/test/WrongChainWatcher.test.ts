/**
 * A watcher on a chain whose endpoint answers for another chain (a real
 * Hardhat node, configured as chain 1) stops advancing and says why: its
 * tick fails with the chain's `WrongChain`, shown as its last error; no item
 * is recorded and its cursors stay where they were.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Watchers from "../src/Watchers.ts"
import { address, DevChain, node, reasonOf, Record, sharedRuntime } from "./fixtures.ts"

layer(sharedRuntime({ chainId: 1 }), { excludeTestServices: true, timeout: 120_000 })("a watcher on another chain's endpoint", (it) => {
  it.effect("does not advance: its tick fails naming both chain ids, nothing is recorded", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const watched = address(10)
      yield* watchers.add({ name: "elsewhere", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, startBlock: 0, paused: true })
      yield* act.sendRaw(yield* act.sign(11, watched, 1n))
      const before = yield* watchers.lag("elsewhere")
      const [reason, message] = reasonOf(yield* Effect.exit(watchers.poll("elsewhere")))
      assert.strictEqual(reason, "ChainFailed")
      assert.include(message, `${chain.url}: answers for chain id ${DevChain.chainId}, not dev's 1; kept out of use`)
      const lag = yield* watchers.lag("elsewhere")
      assert.strictEqual(lag.lastError, message)
      assert.deepStrictEqual([lag.confirmed, lag.processed], [before.confirmed, before.processed])
      assert.deepStrictEqual(yield* watchers.items("elsewhere"), [])
    }))
})
