/**
 * The `Broadcast` kind against what nodes answer a signed transaction:
 * nonces and replacements on a real Hardhat node (a transaction already in
 * its pool sent again, a replacement without the fee bump, one with it, the
 * replaced transaction sent afterwards, a sender without funds), and the
 * messages other clients and providers send for the same conditions, each
 * answered through the fault proxy as the node's error to
 * `eth_sendRawTransaction`: a transaction the node already has is followed to
 * its receipt, a used nonce is `NonceTooLow`, fees too low are `Underpriced`,
 * anything else is `Rejected` with the node's words.
 */
import { assert, layer } from "@effect/vitest"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { Effect, Fiber, Layer } from "effect"
import { type Hex, hexToNumber, keccak256 } from "viem"
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts"
import { DevChain } from "@chainjobs/devchain"
import * as ChainTasks from "../src/ChainTasks.ts"
import type * as EvmClient from "../src/EvmClient.ts"
import * as FaultProxy from "./FaultProxy.ts"
import { devChainConfig, signer, supervisor } from "./fixtures.ts"

/** The reason of a failed broadcast, or the error itself when it is not a `BroadcastError`. */
const reasonOf = (error: { readonly _tag: string; readonly reason?: unknown }) =>
  (error._tag === "BroadcastError" ? error.reason : error) as { readonly _tag: string; readonly detail?: string }

/** The node's mining mode for the scope: off (transactions wait in its pool until `mine`), back on when it closes. */
const manualMining = (evm: EvmClient.EvmClient) =>
  Effect.acquireRelease(
    Effect.asVoid(evm.request("evm_setAutomine", [false])),
    () => Effect.orDie(Effect.asVoid(evm.request("evm_setAutomine", [true])))
  )

/** The dev chain, a client of it, a sender (dev account `index`) and its next nonce, and broadcasts through `url`. */
const setup = (index: number) =>
  Effect.gen(function*() {
    const { chain, evm, nonce, sign } = yield* signer(index, DevChain.accounts[19]!.address, 21_000n)
    /** Broadcasts `transaction` as a task, through the endpoint at `url` (default: the node itself). */
    const broadcast = (transaction: Hex, url = chain.url, timeoutMillis = 30_000) =>
      Tasks.Tasks.use((tasks) => tasks.run(ChainTasks.Broadcast, { chain: "dev", transaction, pollMillis: 20, timeoutMillis })).pipe(
        Effect.provide(
          supervisor(ChainTasks.layer, [devChainConfig([url], { retry: { times: 0 } })], { shutdownGracePeriod: "10 millis" }).pipe(
            Layer.provide(TaskStore.layerMemory)
          )
        )
      )
    const rejection = (transaction: Hex, url?: string) => Effect.map(Effect.flip(broadcast(transaction, url)), reasonOf)
    const mine = Effect.asVoid(evm.request("evm_mine"))
    const minedNonce = Effect.map(evm.request("eth_getTransactionCount", [DevChain.accounts[index]!.address, "latest"]), (count) => hexToNumber(count as Hex))
    return { chain, evm, nonce, sign, broadcast, rejection, mine, minedNonce }
  })

/** Waits, on the real clock, until `condition` holds, at most 10 s; dies naming `what` otherwise. */
const until = (condition: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let tries = 0; !condition(); tries++) {
      if (tries >= 1000) return yield* Effect.die(new Error(`${what}: never came`))
      yield* Effect.sleep("10 millis")
    }
  })

/** Waits, on the real clock, until the node's pool holds `hash` (a broadcast running in a fiber sent it). */
const pooled = (evm: EvmClient.EvmClient, hash: Hex) =>
  Effect.gen(function*() {
    for (let tries = 0; tries < 1000; tries++) {
      const found = yield* evm.request("eth_getTransactionByHash", [hash])
      if (found !== null) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`${hash} never reached the node's pool`))
  })

layer(DevChain.layer(), { excludeTestServices: true, timeout: "60 seconds" })("Broadcast on a node", (it) => {
  it.effect("a transaction sent again while it waits in the node's pool is followed to its one receipt", () =>
    Effect.scoped(Effect.gen(function*() {
      const { broadcast, evm, mine, minedNonce, nonce, sign } = yield* setup(11)
      yield* manualMining(evm)
      const transaction = yield* sign()
      // the first send reaches the pool; the node answers the second that it knows the transaction
      yield* evm.sendRawTransaction(transaction)
      const again = yield* Effect.exit(evm.sendRawTransaction(transaction))
      assert.strictEqual(again._tag, "Failure", "the node refuses a transaction it already has")
      const waiting = yield* Effect.forkChild(broadcast(transaction))
      yield* mine
      const receipt = yield* Fiber.join(waiting)
      assert.strictEqual(receipt.transactionHash, keccak256(transaction))
      assert.strictEqual(yield* minedNonce, nonce + 1)
    })), 60_000)

  it.effect("a replacement without the fee bump is Underpriced; one with it replaces the first, whose broadcast times out unmined and, sent again, is NonceTooLow", () =>
    Effect.scoped(Effect.gen(function*() {
      const { broadcast, chain, evm, mine, minedNonce, nonce, rejection, sign } = yield* setup(12)
      yield* manualMining(evm)
      const first = yield* sign({ value: 1n })
      // its wait ends when its time is up: the replaced transaction is never mined
      const waiting = yield* Effect.forkChild(Effect.flip(broadcast(first, chain.url, 5000)))
      yield* pooled(evm, keccak256(first))
      // the same nonce and fees, another transfer: the pool keeps the first
      const same = yield* rejection(yield* sign({ value: 2n }))
      assert.strictEqual(same._tag, "Underpriced")
      assert.match(same.detail!, /replacement transaction underpriced/i)
      // twice the fees: the second replaces the first
      const bumped = yield* sign({ value: 3n, maxFeePerGas: 2n * 10n ** 11n, maxPriorityFeePerGas: 2n * 10n ** 9n })
      const replacing = yield* Effect.forkChild(broadcast(bumped))
      yield* pooled(evm, keccak256(bumped))
      yield* mine
      const receipt = yield* Fiber.join(replacing)
      assert.strictEqual(receipt.transactionHash, keccak256(bumped))
      assert.strictEqual(yield* minedNonce, nonce + 1)
      assert.deepInclude(reasonOf(yield* Fiber.join(waiting)) as object, { _tag: "ConfirmationTimeout", transactionHash: keccak256(first), confirmations: 0 })
      // sent again, the node refuses the replaced transaction's nonce as used
      assert.strictEqual((yield* rejection(first))._tag, "NonceTooLow")
    })), 60_000)

  it.effect("a sender without funds is Rejected with the node's words, and nothing is mined", () =>
    Effect.gen(function*() {
      const { chain, evm } = yield* setup(13)
      const pauper = privateKeyToAccount(generatePrivateKey())
      const transaction = yield* Effect.promise(() =>
        pauper.signTransaction({
          type: "eip1559",
          chainId: chain.chainId,
          nonce: 0,
          gas: 21_000n,
          maxFeePerGas: 10n ** 11n,
          maxPriorityFeePerGas: 10n ** 9n,
          to: chain.accounts[19]!.address,
          value: 1n
        })
      )
      const { rejection } = yield* setup(13)
      const reason = yield* rejection(transaction)
      assert.strictEqual(reason._tag, "Rejected")
      assert.match(reason.detail!, /funds/i)
      assert.isNull(yield* evm.request("eth_getTransactionByHash", [keccak256(transaction)]))
    }), 60_000)
})

/** Messages nodes and providers answer `eth_sendRawTransaction`, by what they mean. */
const messages = {
  /** The transaction is in the node's pool already: sending it again is harmless. */
  known: [
    { from: "geth, nethermind, Infura", code: -32000, message: "already known" },
    { from: "besu", code: -32000, message: "Known transaction" },
    { from: "Hardhat", code: -32000, message: "Known transaction: 0x5e3c" },
    { from: "erigon", code: -32000, message: "INTERNAL_ERROR: existing tx with same hash" },
    { from: "OpenEthereum", code: -32010, message: "Transaction with the same hash was already imported." }
  ],
  nonceTooLow: [
    { from: "geth", code: -32000, message: "nonce too low: address 0x8626f6940E2eb28930eFb4CeF49B2d1F2C9C1199, tx: 3 state: 4" },
    { from: "besu", code: -32001, message: "Nonce too low" },
    { from: "OpenEthereum", code: -32010, message: "Transaction nonce is too low. Try incrementing the nonce." },
    { from: "ethers-style relays", code: -32000, message: "nonce has already been used" }
  ],
  underpriced: [
    { from: "geth, nethermind", code: -32000, message: "replacement transaction underpriced" },
    { from: "besu", code: -32000, message: "Replacement transaction underpriced" },
    { from: "geth", code: -32000, message: "transaction underpriced: tip needed 1000000000, tip permitted 1" },
    { from: "geth", code: -32000, message: "max fee per gas less than block base fee: address 0x86, maxFeePerGas: 1, baseFee: 7" },
    { from: "besu", code: -32009, message: "Gas price below configured minimum gas price" },
    { from: "besu", code: -32009, message: "Gas price below current base fee" },
    {
      from: "OpenEthereum",
      code: -32010,
      message: "Transaction gas price 1000 wei is too low. There is another transaction with same nonce in the queue. Try increasing the gas price or incrementing the nonce."
    },
    {
      from: "OpenEthereum",
      code: -32010,
      message: "Transaction gas price is too low. It does not satisfy your node's minimal gas price (minimal: 1000 got: 1). Try increasing the gas price."
    },
    { from: "Optimism", code: -32000, message: "fee too low: 1, use at least tx.gasLimit = 21000 and tx.gasPrice = 1000" }
  ],
  rejected: [
    { from: "geth, nethermind", code: -32000, message: "insufficient funds for gas * price + value" },
    { from: "besu", code: -32004, message: "Upfront cost exceeds account balance" },
    { from: "geth", code: -32000, message: "intrinsic gas too low" },
    { from: "OpenEthereum", code: -32010, message: "Transaction gas is too low. There is not enough gas to cover minimal cost of the transaction (minimal: 21000, got: 20000). Try increasing supplied gas." },
    { from: "geth", code: -32000, message: "exceeds block gas limit" },
    { from: "besu", code: -32000, message: "Wrong chainId" },
    { from: "geth", code: -32000, message: "invalid sender" }
  ]
} as const

/** A proxy of the node at `url` that answers the next `eth_sendRawTransaction` with the provider's error `row`. */
const answering = (url: string, row: { readonly code: number; readonly message: string }) =>
  FaultProxy.make(url, {
    providerError: { code: row.code, message: row.message },
    providerErrorMethod: "eth_sendRawTransaction",
    providerErrorTimes: 1
  })

layer(DevChain.layer(), { excludeTestServices: true, timeout: "60 seconds" })("Broadcast against providers' messages", (it) => {
  it.effect("each message of a used nonce, of fees too low, or of another refusal is the matching reason, with the node's words", () =>
    Effect.gen(function*() {
      const { chain, rejection, sign } = yield* setup(14)
      const transaction = yield* sign()
      const expected = [
        ...messages.nonceTooLow.map((row) => [row, "NonceTooLow"] as const),
        ...messages.underpriced.map((row) => [row, "Underpriced"] as const),
        ...messages.rejected.map((row) => [row, "Rejected"] as const)
      ]
      for (const [row, tag] of expected) {
        const proxy = yield* answering(chain.url, row)
        const reason = yield* rejection(transaction, proxy.url)
        assert.deepStrictEqual([reason._tag, reason.detail], [tag, row.message], `${row.from}: ${row.message}`)
        assert.strictEqual(proxy.counts.providerError, 1)
      }
    }), 60_000)

  it.effect("each message of a transaction the node already has is followed to the receipt", () =>
    Effect.scoped(Effect.gen(function*() {
      const { chain, evm, mine, sign } = yield* setup(15)
      yield* manualMining(evm)
      let nonce = hexToNumber((yield* evm.request("eth_getTransactionCount", [DevChain.accounts[15]!.address, "pending"])) as Hex)
      for (const row of messages.known) {
        // the node has the transaction in its pool; the endpoint answers the broadcast's send with the message
        const transaction = yield* sign({ nonce })
        yield* evm.sendRawTransaction(transaction)
        const proxy = yield* answering(chain.url, row)
        const waiting = yield* Effect.forkChild(Effect.result(
          Tasks.Tasks.use((tasks) =>
            tasks.run(ChainTasks.Broadcast, { chain: "dev", transaction, pollMillis: 20, timeoutMillis: 30_000 })
          ).pipe(
            Effect.provide(supervisor(ChainTasks.layer, [devChainConfig([proxy.url], { retry: { times: 0 } })]).pipe(Layer.provide(TaskStore.layerMemory)))
          )
        ))
        yield* until(() => proxy.counts.providerError === 1, `${row.from}'s answer to the broadcast's send`)
        yield* mine
        const outcome = yield* Fiber.join(waiting)
        assert.strictEqual(outcome._tag, "Success", `${row.from}: ${row.message}: ${outcome._tag === "Failure" ? JSON.stringify(outcome.failure) : ""}`)
        if (outcome._tag === "Success") assert.strictEqual(outcome.success.transactionHash, keccak256(transaction))
        nonce++
      }
    })), 60_000)
})
