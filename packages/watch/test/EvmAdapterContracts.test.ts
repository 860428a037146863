/**
 * Which contract addresses `EvmAdapter.checkContract` takes: an address is
 * 0x and 40 hex digits, in any case; a mixed-case spelling whose EIP-55
 * checksum fails is taken (as watched accounts are), and anything else is
 * refused naming it. Checking a contract reads nothing from the chain: the
 * adapter's endpoint here is one nothing listens on.
 */
import { Chains } from "@chainjobs/chain"
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ChainAdapters } from "../src/ChainAdapter.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import { devChainConfig } from "./fixtures.ts"

/** The adapter of a chain `dev` whose endpoint is never called. */
const adapter = Effect.flatMap(ChainAdapters, (adapters) => adapters.adapter("dev")).pipe(
  Effect.provide(EvmAdapter.layer.pipe(Layer.provide(Chains.layerMemory([devChainConfig("http://127.0.0.1:9")]))))
)

const transfer = "Transfer(address indexed from, address indexed to, uint256 value)"

it.effect("a contract address in mixed case is taken whatever its checksum; one that is not 40 hex digits is refused", () =>
  Effect.gen(function*() {
    const evm = yield* adapter
    // a valid EIP-55 spelling with one letter's case flipped: its checksum no longer holds
    const spelled = "0x52908400098527886E0F7030069857D2E4169EE7".replace("E0F", "e0F")
    assert.isUndefined(evm.checkContract({ address: spelled, events: [transfer] }))
    assert.isUndefined(evm.checkContract({ address: spelled.toLowerCase(), events: [transfer] }))
    assert.strictEqual(
      evm.checkContract({ address: `${spelled}0`, events: [transfer] }),
      `"${spelled}0" is not an EVM address`
    )
  }))
