/**
 * What `EvmAdapter` refuses, on a real Hardhat node, with the reason a user
 * reads: a token balance asked of an address without code (the node answers
 * `0x`, no amount) is an `Invalid` naming the asset, not a defect; an event
 * signature that does not parse is refused with the first line of the
 * parser's reason.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ChainAdapters } from "../src/ChainAdapter.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import { address, DevChain, numbered, reasonOf } from "./fixtures.ts"

const adapter = Effect.flatMap(ChainAdapters, (adapters) => adapters.adapter("dev"))

const chains = EvmAdapter.layer.pipe(Layer.provideMerge(DevChain.layerChains()))

layer(chains, { excludeTestServices: true, timeout: 120_000 })("EvmAdapter refusals", (it) => {
  it.effect("a token balance at an address without code is refused as no token contract", () =>
    Effect.gen(function*() {
      const evm = yield* adapter
      const nowhere = numbered(0xdead)
      assert.deepStrictEqual(reasonOf(yield* Effect.exit(evm.balance(address(3), nowhere))), [
        "Invalid",
        `watcher "balances": asset ${nowhere} on dev answered balanceOf with "0x": no token contract there`
      ])
    }), 60_000)

  it.effect("an event signature that does not parse is refused with the parser's first line", () =>
    Effect.gen(function*() {
      const evm = yield* adapter
      assert.strictEqual(
        evm.checkContract({ address: address(3), events: ["Transfer(address indexed from, address indexed to, uint256 value)", "Transfer(address indexed from"] }),
        `"Transfer(address indexed from" is not an event signature: Unknown signature.`
      )
    }), 60_000)
})
