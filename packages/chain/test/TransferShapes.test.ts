/**
 * Which `Transfer(address,address,uint256)` logs an address scan reports as
 * ERC-20 activity, on a real Hardhat node: contracts deployed for the test
 * emit the event's topic in each shape a chain holds — an ERC-20 transfer
 * (three topics, one word of data), an ERC-721 transfer (the token id as a
 * fourth topic, no data), and the shapes of non-standard emitters (three
 * topics and two words; four topics and a word) — to a watched address. Only
 * the ERC-20 one is activity; the scan neither reports the others nor fails
 * on them.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { encodeFunctionData, type Hex, hexToNumber, pad, toHex } from "viem"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import * as AddressScan from "../src/AddressScan.ts"
import type * as EvmClient from "../src/EvmClient.ts"
import { client, devChainConfig, Seeded, seededChain } from "./fixtures.ts"

/** One byte, two hex digits. */
const byte = (value: number) => value.toString(16).padStart(2, "0")

/**
 * The creation code of a contract that, when called with `to` (word 0), `id` (word 1) and data words (from word
 * 2), emits one log with the `Transfer` topic, the caller and `to` as topics, `id` as a fourth topic when
 * `topics` is 4, and `dataWords` words of data: LOG3 or LOG4 in raw EVM bytecode.
 */
const emitterCode = (topics: 3 | 4, dataWords: number): Hex => {
  const size = dataWords * 32
  const runtime = [
    // CALLDATACOPY(0, 64, size): the data words to memory
    ...(size > 0 ? [`60${byte(size)}`, "6040", "6000", "37"] : []),
    // the topics, last pushed first: [id], to, caller, Transfer
    ...(topics === 4 ? ["6020", "35"] : []),
    "6000",
    "35",
    "33",
    `7f${AddressScan.transferTopic.slice(2)}`,
    // LOGn(0, size)
    `60${byte(size)}`,
    "6000",
    topics === 4 ? "a4" : "a3",
    "00"
  ].join("")
  const length = runtime.length / 2
  // CODECOPY(0, 11, length), RETURN(0, length): the 11 bytes of this prefix, then the runtime
  return `0x60${byte(length)}80600b6000396000f3${runtime}`
}

/** Deploys the creation code from dev account 5; the contract's address. */
const deploy = (evm: EvmClient.EvmClient, code: Hex) =>
  Effect.gen(function*() {
    const hash = yield* evm.request("eth_sendTransaction", [{ from: DevChain.accounts[5]!.address, data: code, gas: "0x100000" }])
    const receipt = (yield* evm.request("eth_getTransactionReceipt", [hash])) as { readonly contractAddress: Hex }
    return receipt.contractAddress
  })

layer(seededChain({ rounds: 1 }), { excludeTestServices: true, timeout: "60 seconds" })("Transfer logs by shape", (it) => {
  it.effect("only a Transfer of the ERC-20 shape is activity: ERC-721 and other shapes are neither reported nor fatal", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const evm = yield* client(devChainConfig([chain.url]))
      const watched = "0x00000000000000000000000000000000000000aa"
      const caller = DevChain.accounts[6]!.address
      const shapes = [
        { name: "ERC-721 (four topics, no data)", code: emitterCode(4, 0) },
        { name: "three topics, two words", code: emitterCode(3, 2) },
        { name: "four topics, one word", code: emitterCode(4, 1) }
      ]
      const emitters = yield* Effect.forEach(shapes, (shape) => deploy(evm, shape.code))
      const from = hexToNumber((yield* evm.request("eth_blockNumber")) as Hex) + 1
      for (const emitter of emitters) {
        const calldata = `${pad(watched)}${pad(toHex(7)).slice(2)}${pad(toHex(1000)).slice(2)}${pad(toHex(2000)).slice(2)}` as Hex
        const hash = yield* evm.request("eth_sendTransaction", [{ from: caller, to: emitter, data: calldata, gas: "0x100000" }])
        const receipt = (yield* evm.request("eth_getTransactionReceipt", [hash])) as { readonly logs: ReadonlyArray<{ readonly topics: ReadonlyArray<Hex> }> }
        assert.strictEqual(receipt.logs.length, 1, "the emitter logged")
        assert.strictEqual(receipt.logs[0]!.topics[0], AddressScan.transferTopic)
      }
      // and a token transfer of the ERC-20 shape to the same address
      const data = encodeFunctionData({ abi: DevSeed.tokenAbi, functionName: "transfer", args: [watched, 5n] })
      yield* evm.request("eth_sendTransaction", [{ from: seeded.participants[0]!, to: seeded.token, data }])
      const to = hexToNumber((yield* evm.request("eth_blockNumber")) as Hex)
      const found = yield* AddressScan.scanRange(evm, [watched], from, to)
      assert.deepStrictEqual(found.map((item) => [item.kind, item.from, item.to, item.value, item.token]), [
        ["erc20", seeded.participants[0]!.toLowerCase(), watched, "5", seeded.token.toLowerCase()]
      ])
    }))
})
