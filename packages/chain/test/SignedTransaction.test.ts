import { assert, layer } from "@effect/vitest"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { Effect, Fiber, Layer, Schedule } from "effect"
import { encodeFunctionData, type Hex, hexToNumber, keccak256 } from "viem"
import { privateKeyToAccount } from "viem/accounts"
import * as ChainTasks from "../src/ChainTasks.ts"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import * as FaultProxy from "./FaultProxy.ts"
import { devChainConfig, Seeded, seededChain, signer, supervisor } from "./fixtures.ts"

layer(seededChain({ rounds: 2 }), { excludeTestServices: true, timeout: 120_000 })("SignedTransaction", (it) => {
  const setup = Effect.gen(function*() {
    const { chain, evm, nonce, sign } = yield* signer(9, DevChain.accounts[10]!.address, 100_000n)
    const broadcast = (transaction: Hex, options: { confirmations?: number; timeoutMillis?: number } = {}) =>
      Tasks.Tasks.use((tasks) =>
        tasks.run(ChainTasks.Broadcast, { chain: "dev", transaction, pollMillis: 20, timeoutMillis: 10_000, ...options })
      ).pipe(
        Effect.provide(supervisor(ChainTasks.layer, [devChainConfig([chain.url])]).pipe(Layer.provide(TaskStore.layerMemory)))
      )
    const rejection = (transaction: Hex, options: { confirmations?: number; timeoutMillis?: number } = {}) =>
      Effect.map(Effect.flip(broadcast(transaction, options)), (error) => error._tag === "BroadcastError" ? error.reason : error)
    return { evm, sign, broadcast, rejection, nonce }
  })

  it.effect("a broadcast lands and returns its receipt once it has the confirmations asked for", () =>
    Effect.gen(function*() {
      const { broadcast, evm, sign } = yield* setup
      const transaction = yield* sign()
      const miner = yield* Effect.forkChild(
        Effect.repeat(evm.request("hardhat_mine", ["0x1"]), Schedule.spaced("30 millis"))
      )
      const receipt = yield* broadcast(transaction, { confirmations: 3 })
      yield* Fiber.interrupt(miner)
      assert.strictEqual(receipt.transactionHash, keccak256(transaction))
      assert.isAtLeast(receipt.confirmations, 3)
      const [onChain] = yield* evm.getReceipts([keccak256(transaction)])
      assert.strictEqual(onChain!.blockHash, receipt.blockHash)
      assert.strictEqual(onChain!.status, "success")
      // sending it again follows the same transaction to the same receipt
      const again = yield* broadcast(transaction)
      assert.strictEqual(again.blockHash, receipt.blockHash)
    }))

  it.effect("fails with NonceTooLow for a nonce already used by another transaction", () =>
    Effect.gen(function*() {
      const { nonce, rejection, sign } = yield* setup
      const reason = yield* rejection(yield* sign({ nonce: nonce - 1, value: 7n }))
      assert.strictEqual(reason._tag, "NonceTooLow")
    }))

  it.effect("fails with Underpriced when the fee is below the base fee", () =>
    Effect.gen(function*() {
      const { rejection, sign } = yield* setup
      const reason = yield* rejection(yield* sign({ maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }))
      assert.strictEqual(reason._tag, "Underpriced")
    }))

  it.effect("fails with Reverted when the transaction is mined and reverts", () =>
    Effect.gen(function*() {
      const { rejection, sign } = yield* setup
      const seeded = yield* Seeded
      const data = encodeFunctionData({ abi: DevSeed.tokenAbi, functionName: "transfer", args: [seeded.participants[0]!, 1n] })
      const reason = yield* rejection(yield* sign({ to: seeded.token, value: 0n, data }))
      assert.strictEqual(reason._tag, "Reverted")
    }))

  it.effect("fails with ConfirmationTimeout when the confirmations do not come in time", () =>
    Effect.gen(function*() {
      const { rejection, sign } = yield* setup
      const reason = yield* rejection(yield* sign(), { confirmations: 1000, timeoutMillis: 300 })
      assert.deepInclude(reason, { _tag: "ConfirmationTimeout", confirmations: 1 })
    }))

  it.effect("a broadcast whose answer is lost is sent again and lands once", () =>
    Effect.gen(function*() {
      const { evm, nonce, sign } = yield* setup
      const chain = yield* DevChain.DevChain
      const lossy = yield* FaultProxy.make(chain.url, { dropAnswers: 1, dropAnswerMethod: "eth_sendRawTransaction" })
      const transaction = yield* sign({ value: 3n })
      const receipt = yield* Tasks.Tasks.use((tasks) =>
        tasks.run(ChainTasks.Broadcast, { chain: "dev", transaction, pollMillis: 20, timeoutMillis: 10_000 })
      ).pipe(
        Effect.provide(supervisor(ChainTasks.layer, [devChainConfig([lossy.url])]).pipe(Layer.provide(TaskStore.layerMemory)))
      )
      assert.strictEqual(lossy.counts.stall, 1)
      assert.strictEqual(receipt.transactionHash, keccak256(transaction))
      const sender = privateKeyToAccount(chain.accounts[9]!.privateKey).address
      assert.strictEqual(hexToNumber((yield* evm.request("eth_getTransactionCount", [sender, "latest"])) as Hex), nonce + 1)
    }))
})
