import { assert, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { encodeFunctionData, type Hex, hexToNumber } from "viem"
import * as AddressScan from "../src/AddressScan.ts"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { isTransient } from "../src/ChainRequestError.ts"
import * as FaultProxy from "./FaultProxy.ts"
import type * as EvmClient from "../src/EvmClient.ts"
import { client, devChainConfig, Seeded, seededChain } from "./fixtures.ts"

/** The client, noting each block read (its number, and whether with its transactions) and each log query. */
const noting = (evm: EvmClient.EvmClient) => {
  const reads: Array<string> = []
  const noted: EvmClient.EvmClient = {
    ...evm,
    getBlocks: (numbers, options) => {
      reads.push(...numbers.map((number) => `block ${number}${options?.transactions === true ? " with transactions" : ""}`))
      return evm.getBlocks(numbers, options)
    },
    getLogs: (filter) => {
      reads.push("logs")
      return evm.getLogs(filter)
    }
  }
  return { noted, reads }
}

layer(seededChain({ rounds: 2 }), { excludeTestServices: true, timeout: 120_000 })("AddressScan.scanRange", (it) => {
  it.effect("no address, or a range ending before it starts, is no activity and reads nothing; scanLinked of no address reads the headers only, for the range's linkage", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const { noted, reads } = noting(yield* client(devChainConfig([chain.url])))
      const head = yield* noted.head
      assert.deepStrictEqual(yield* AddressScan.scanRange(noted, [], 1, head), [])
      assert.deepStrictEqual(yield* AddressScan.scanRange(noted, [seeded.participants[0]!], head, head - 1), [])
      assert.deepStrictEqual(reads, [])
      const [first, second] = yield* noted.getBlocks([1, 2])
      reads.length = 0
      assert.deepStrictEqual(yield* AddressScan.scanLinked(noted, [], 1, 2), {
        activity: [],
        parentHash: first!.parentHash,
        lastHash: second!.hash!
      })
      assert.deepStrictEqual(reads, ["block 1", "block 2"])
    }))

  it.effect("an address's token transfers are found from either side alone, others' are not, and the activity comes in chain order", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const evm = yield* client(devChainConfig([chain.url]))
      const [watched, other, third, bystander] = [0, 3, 4, 5].map((index) => seeded.participants[index]!)
      const tokens = (from: string, to: string) =>
        evm.request("eth_sendTransaction", [{
          from,
          to: seeded.token,
          data: encodeFunctionData({ abi: DevSeed.tokenAbi, functionName: "transfer", args: [to as Hex, 7n] })
        }])
      const first = (yield* evm.head) + 1
      // a block each (automine): the watched address sends tokens; two others trade them; it is sent ether
      yield* tokens(watched, other)
      yield* tokens(other, third)
      yield* evm.request("eth_sendTransaction", [{ from: bystander, to: watched, value: "0x1" }])
      const found = yield* AddressScan.scanRange(evm, [watched], first, first + 2)
      assert.deepStrictEqual(found.map((item) => [item.kind, item.blockNumber, item.from, item.to]), [
        ["native", first, watched, seeded.token.toLowerCase()],
        ["erc20", first, watched, other],
        ["native", first + 2, bystander, watched]
      ])
    }))

  it.effect("a range mined while its blocks are read finds the block's token transfers too", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      // block reads are slow: the block is mined between the scan's start and their answer
      const proxy = yield* FaultProxy.make(chain.url, { slowMethod: "eth_getBlockByNumber", slowMillis: 300 })
      const evm = yield* client(devChainConfig([proxy.url], { headTtl: 0, requestTimeout: "2 seconds" }))
      const next = (yield* evm.head) + 1
      const [sender, recipient] = [seeded.participants[0]!, seeded.participants[1]!]
      const scan = yield* Effect.forkChild(AddressScan.scanRange(evm, [recipient], next, next))
      // block `next` is mined (automine) with a token transfer to the watched address
      yield* Effect.sleep("100 millis")
      const data = encodeFunctionData({ abi: DevSeed.tokenAbi, functionName: "transfer", args: [recipient, 5n] })
      yield* evm.request("eth_sendTransaction", [{ from: sender, to: seeded.token, data }])
      assert.strictEqual(hexToNumber((yield* evm.request("eth_blockNumber")) as Hex), next)
      const found = yield* Fiber.join(scan)
      assert.deepStrictEqual(found.map((item) => [item.kind, item.blockNumber, item.from, item.to]), [
        ["erc20", next, sender, recipient]
      ])
    }))

  it.effect("a range whose block is replaced between the block and log reads fails, to be read again", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      // log reads are slow: the block is replaced by another between the two reads
      const proxy = yield* FaultProxy.make(chain.url, { slowMethod: "eth_getLogs", slowMillis: 300 })
      const evm = yield* client(devChainConfig([proxy.url], { headTtl: 0, requestTimeout: "2 seconds" }))
      const [sender, recipient] = [seeded.participants[0]!, seeded.participants[1]!]
      const transfer = (amount: bigint) =>
        evm.request("eth_sendTransaction", [{
          from: sender,
          to: seeded.token,
          data: encodeFunctionData({ abi: DevSeed.tokenAbi, functionName: "transfer", args: [recipient, amount] })
        }])
      const snapshot = yield* evm.request("evm_snapshot")
      yield* transfer(1n)
      const mined = hexToNumber((yield* evm.request("eth_blockNumber")) as Hex)
      const scan = yield* Effect.forkChild(Effect.flip(AddressScan.scanRange(evm, [recipient], mined, mined)))
      yield* Effect.sleep("100 millis")
      yield* evm.request("evm_revert", [snapshot])
      yield* transfer(2n)
      const error = yield* Fiber.join(scan)
      assert.strictEqual(error.reason._tag, "InvalidResponse")
      // it names the log and the block it came from
      assert.match(error.message, /log 0x[0-9a-f]{64}:\d+ is of block 0x[0-9a-f]{64}, not of the block read/)
      assert.isTrue(isTransient(error))
    }))
})
