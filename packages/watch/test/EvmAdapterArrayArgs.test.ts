/**
 * `EvmAdapter.scan` decoding an event whose arguments hold lists, on a real
 * Hardhat node: a contract put at an address with `hardhat_setCode` emits
 * each call's data as one log (`LOG1`, the topic the event's selector), so
 * the test chooses the event's data. A list argument stays a list of
 * JSON-safe values (integers as decimal strings, a list of lists as one), as
 * a named scalar does; no dev contract emits such an event.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { encodeAbiParameters, type Hex, toEventSelector } from "viem"
import { ChainAdapters } from "../src/ChainAdapter.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import * as WatchItem from "../src/WatchItem.ts"
import { DevChain, node, numbered } from "./fixtures.ts"

const adapter = Effect.flatMap(ChainAdapters, (adapters) => adapters.adapter("dev"))

const chains = EvmAdapter.layer.pipe(Layer.provideMerge(DevChain.layerChains()))

const batch = "Batch(uint256 count, uint256[] values, uint256[][] groups)"

/**
 * Runtime code that copies its call data to memory and logs it with one
 * topic: CALLDATASIZE PUSH1 0 PUSH1 0 CALLDATACOPY, PUSH32 topic,
 * CALLDATASIZE PUSH1 0 LOG1, STOP.
 */
const emitter = (topic: Hex): Hex => `0x3660006000377f${topic.slice(2)}366000a100`

layer(chains, { excludeTestServices: true, timeout: 120_000 })("EvmAdapter list arguments", (it) => {
  it.effect("an event's list arguments are decoded as lists of decimal strings, nested lists as nested lists", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const evm = yield* adapter
      const contract = numbered(0xba7c4)
      yield* act.setCode(contract, emitter(toEventSelector(batch)))
      const data = encodeAbiParameters(
        [{ type: "uint256" }, { type: "uint256[]" }, { type: "uint256[][]" }],
        [3n, [1n, 2n ** 70n], [[4n], [], [5n, 6n]]]
      )
      const sent = yield* act.sendUnchecked(0, { to: contract, data })
      const block = yield* act.head

      const items = yield* evm.scan({ accounts: [], contracts: [{ address: contract, events: [batch] }] }, block, block)
      assert.deepStrictEqual(
        items.map((item) => [item.transaction, item.contract, item.event, item.args]),
        [[sent, contract, "Batch", { count: "3", values: ["1", (2n ** 70n).toString()], groups: [["4"], [], ["5", "6"]] }]]
      )
      // an item a watcher records
      for (const item of items) new WatchItem.WatchItem({ ...item, watcher: "w" })
    }), 60_000)
})
