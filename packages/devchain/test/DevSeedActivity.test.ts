/**
 * What `DevSeed.seed` produces, item by item, for small options: the
 * token's deployment and mint, its distribution to every participant, each
 * round's ETH transfer, token transfer and bystanders' trade with the amounts
 * and accounts the rounds rotate through, in chain order, each on the chain
 * as reported; and `expectedFor` narrowing it to a set of addresses.
 */
import { assert, layer } from "@effect/vitest"
import { Activity } from "@chainjobs/chain"
import { Effect } from "effect"
import * as DevChain from "../src/DevChain.ts"
import * as DevSeed from "../src/DevSeed.ts"
import { nodeBoundMillis } from "./nodeBound.ts"

const rpc = (url: string, method: string, params: Array<unknown> = []) =>
  Effect.promise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params })
    }).then((response) => response.json() as Promise<{ readonly result: any }>).then((answer) => answer.result)
  )

const zero = `0x${"00".repeat(20)}`

/** The fields of an item that the seed's rules determine (not its block or hash). */
const shape = (item: Activity.Activity) => [item.kind, item.from, item.to, item.value, item.token] as const

layer(DevChain.layer(), { excludeTestServices: true, timeout: nodeBoundMillis })("DevSeed.seed, item by item", (it) => {
  it.effect("deploys and distributes the token, then rotates transfers among the participants round by round", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const headBefore = Number(yield* rpc(chain.url, "eth_blockNumber"))
      const rounds = 5
      const seeded = yield* DevSeed.seed({ rounds, participants: 3, maxGap: 2 })
      const accounts = chain.accounts.map((account) => account.address.toLowerCase())
      const p = accounts.slice(0, 3)
      assert.deepStrictEqual(seeded.participants, p)
      assert.deepStrictEqual(seeded.bystanders, accounts.slice(3, 5))
      assert.strictEqual(seeded.fromBlock, headBefore + 1)
      assert.strictEqual(seeded.toBlock, Number(yield* rpc(chain.url, "eth_blockNumber")))
      // one block per transaction (Hardhat automines), and the empty blocks after each round: (round * 7) % (maxGap + 1)
      const transactions = 1 + 2 + rounds * 3
      const gaps = Array.from({ length: rounds }, (_, round) => (round * 7) % 3).reduce((a, b) => a + b, 0)
      assert.strictEqual(seeded.toBlock - seeded.fromBlock + 1, transactions + gaps)

      const expected: Array<readonly [string, string, string | null, string, string | null]> = [
        ["native", p[0]!, null, "0", null],
        ["erc20", zero, p[0]!, (10n ** 24n).toString(), seeded.token],
        ["native", p[0]!, seeded.token, "0", null],
        ["erc20", p[0]!, p[1]!, (10n ** 21n).toString(), seeded.token],
        ["native", p[0]!, seeded.token, "0", null],
        ["erc20", p[0]!, p[2]!, (10n ** 21n).toString(), seeded.token]
      ]
      for (let round = 0; round < rounds; round++) {
        const offset = 1 + (round % 2)
        expected.push(["native", p[round % 3]!, p[(round + offset) % 3]!, (BigInt(round + 1) * 10n ** 15n).toString(), null])
        expected.push(["native", p[(round + 2) % 3]!, seeded.token, "0", null])
        expected.push(["erc20", p[(round + 2) % 3]!, p[(round + 2 + offset) % 3]!, String(round + 1), seeded.token])
        expected.push(["native", seeded.bystanders[round % 2]!, seeded.bystanders[(round + 1) % 2]!, "1", null])
      }
      assert.deepStrictEqual(seeded.activity.map(shape), expected)
      // in chain order, and each as the chain has it
      assert.deepStrictEqual([...seeded.activity].sort(Activity.order).map(Activity.key), seeded.activity.map(Activity.key))
      for (const item of seeded.activity.filter((item) => item.kind === "native")) {
        const receipt = yield* rpc(chain.url, "eth_getTransactionReceipt", [item.transactionHash])
        assert.strictEqual(Number(receipt.blockNumber), item.blockNumber)
        assert.strictEqual(receipt.from, item.from)
      }
      const deployment = yield* rpc(chain.url, "eth_getTransactionReceipt", [seeded.activity[0]!.transactionHash])
      assert.strictEqual(deployment.contractAddress, seeded.token)

      // expectedFor: the items touching any of the addresses, whatever their case
      const bob = DevSeed.expectedFor(seeded, [p[1]!.toUpperCase().replace("0X", "0x")])
      assert.deepStrictEqual(bob.map(Activity.key), seeded.activity.filter((item) => item.from === p[1] || item.to === p[1]).map(Activity.key))
      assert.isAbove(bob.length, 0)
      assert.deepStrictEqual(DevSeed.expectedFor(seeded, []), [])
      // 18 transactions and as many receipts read, a JSON-RPC round trip to the node each: under vitest's 5 s default
      // when the machine is idle, over it in a mutation run's dry run at load average 27 (seen), so bounded like
      // DevSeed.test's seed and the node itself (nodeBound.ts)
    }), nodeBoundMillis)
})
