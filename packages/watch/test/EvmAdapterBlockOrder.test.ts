/**
 * `EvmAdapter.scan` on a real Hardhat node, within one block and across
 * contracts: a block holding a native transfer and several token transfers
 * lists the native transfer (no log position) first and the logs in log
 * order, whatever the transaction order; a contract watch reads the logs of
 * its contracts only, not those of another contract emitting the same event;
 * and an event whose inputs have no names gets its arguments by position
 * (`"0"`, `"1"`, …), made JSON-safe like named ones: an item that a watcher
 * can record (viem decodes them as a list, which an item's `args` refused).
 */
import { DevSeed } from "@chainjobs/devchain"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { type Address, encodeFunctionData, getAddress } from "viem"
import { ChainAdapters } from "../src/ChainAdapter.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import * as WatchItem from "../src/WatchItem.ts"
import { address, DevChain, node } from "./fixtures.ts"

const adapter = Effect.flatMap(ChainAdapters, (adapters) => adapters.adapter("dev"))

const chains = EvmAdapter.layer.pipe(Layer.provideMerge(DevChain.layerChains()))

/** A token transfer's call data. */
const transferData = (to: Address, amount: bigint) =>
  encodeFunctionData({ abi: DevSeed.tokenAbi, functionName: "transfer", args: [to, amount] })

layer(chains, { excludeTestServices: true, timeout: 120_000 })("EvmAdapter scans", (it) => {
  it.effect("one block's items: the native transfer first, then the logs in log order; a contract watch reads its own contracts' logs only", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const evm = yield* adapter
      // two tokens, each deployed and used by account 0
      const first = yield* DevSeed.seed({ rounds: 1, participants: 2, maxGap: 0 })
      const second = yield* DevSeed.seed({ rounds: 1, participants: 2, maxGap: 0 })
      const watched = address(17)

      // one block: three token transfers to the watched account (logs 0, 1, 2), then a native transfer to it
      yield* act.setAutomine(false)
      const sent = [
        yield* act.sendUnchecked(0, { to: first.token, data: transferData(watched, 1n) }),
        yield* act.sendUnchecked(0, { to: first.token, data: transferData(watched, 2n) }),
        yield* act.sendUnchecked(0, { to: second.token, data: transferData(watched, 3n) }),
        yield* act.sendUnchecked(0, { to: watched, value: 4n })
      ]
      yield* act.mine(1)
      yield* act.setAutomine(true)
      const block = yield* act.head

      const items = yield* evm.scan({ accounts: [watched], contracts: [] }, block, block)
      assert.deepStrictEqual(
        items.map((item) => [item.transaction, item.position, item.kind, item.amount]),
        [
          [sent[3], null, "native", "4"],
          [sent[0], 0, "token", "1"],
          [sent[1], 1, "token", "2"],
          [sent[2], 2, "token", "3"]
        ]
      )

      // the first token's Transfer events, its inputs unnamed, over both tokens' activity: the second token's are not
      // read; the arguments come by position, the amount as a decimal string
      const deployer = address(0)
      const events = yield* evm.scan({
        accounts: [],
        contracts: [{ address: first.token, events: ["Transfer(address indexed, address indexed, uint256)"] }]
      }, first.fromBlock, block)
      const fromFirst = first.activity.filter((item) => item.kind === "erc20")
      // viem gives addresses checksummed
      const args = (from: string, to: string, value: string) => ({ 0: getAddress(from), 1: getAddress(to), 2: value })
      assert.deepStrictEqual(
        events.map((item) => [item.contract, item.transaction, item.position, item.args]),
        [
          ...fromFirst.map((item) => [first.token, item.transactionHash, item.logIndex, args(item.from!, item.to!, item.value)]),
          [first.token, sent[0], 0, args(deployer, watched, "1")],
          [first.token, sent[1], 1, args(deployer, watched, "2")]
        ]
      )
      // each is an item a watcher records
      for (const item of events) new WatchItem.WatchItem({ ...item, watcher: "w" })
      assert.isTrue(second.activity.some((item) => item.kind === "erc20"), "the second token has transfers of its own")
    }), 60_000)
})
