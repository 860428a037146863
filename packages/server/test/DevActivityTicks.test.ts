/**
 * The dev chain's live activity as it runs, on a real Hardhat node: the
 * chain kinds' examples name the seeded chain `dev`, seeded with 30 rounds
 * (one ETH transfer among the participants each, `DevSeed`), the start prints
 * where the chain is, what was seeded and a scan to try on it, and each second one ETH
 * transfer of the round's number × 10^14 wei goes from one participant to
 * the next, then a token transfer of the round's number of units to the same
 * receiver, the next round sending from that receiver. Read back from the
 * blocks the node mined after the seeded ones (each transaction in a block of
 * its own).
 */
import { assert, layer } from "@effect/vitest"
import { Console, Effect, Layer } from "effect"
import { DevChain } from "@chainjobs/devchain"
import * as DevActivity from "../src/DevActivity.ts"
import * as KindExamples from "../src/KindExamples.ts"

/** A mined transaction, as the node answers it. */
interface Mined {
  readonly from: string
  readonly to: string
  readonly value: string
  readonly input: string
}

/** Calls a JSON-RPC method of the node at `url`; its result. */
const rpc = <A>(url: string, method: string, params: ReadonlyArray<unknown>) =>
  Effect.promise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params })
    }).then((response) => response.json() as Promise<{ readonly result: A }>).then((reply) => reply.result)
  )

/**
 * The first `count` transactions mined after block `after` (or, given `through`, every one up to that block),
 * waiting (looking every 100 ms) for them. Not a speed bound: only to say what was seen, it gives up at 50 s, short
 * of the test's 60 s timeout.
 */
const minedAfter = (url: string, after: number, count: number, through?: number) =>
  Effect.gen(function*() {
    const mined: Array<Mined> = []
    let next = after + 1
    while (through === undefined ? mined.length < count : next <= through) {
      const block = yield* rpc<{ readonly transactions: ReadonlyArray<Mined> } | null>(url, "eth_getBlockByNumber", [`0x${next.toString(16)}`, true])
      if (block === null) yield* Effect.sleep("100 millis")
      else {
        mined.push(...block.transactions)
        next++
      }
    }
    return through === undefined ? mined.slice(0, count) : mined
  }).pipe(Effect.timeoutOrElse({
    duration: "50 seconds",
    orElse: () => Effect.die(new Error(`fewer than ${count} transactions mined after block ${after} in 50 s`))
  }))

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("DevActivity's transfers", (it) => {
  it.effect("prints the chain and a scan to try, then each second an ETH transfer of round × 10^14 wei to the next participant and a token transfer of round units to it", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const examples = yield* Layer.build(KindExamples.layer({ chains: [], devChain: true }))
      const printed: Array<string> = []
      const capture = { ...globalThis.console, log: (...parts: Array<unknown>) => printed.push(parts.join(" ")) }
      yield* Layer.build(DevActivity.layer.pipe(
        Layer.provide(Layer.succeedContext(examples)),
        Layer.provide(Layer.succeed(Console.Console, capture))
      ))
      const all = yield* KindExamples.KindExamples.use((kinds) => kinds.all).pipe(Effect.provide(Layer.succeedContext(examples)))
      const scan = all.get("chain/scan-addresses") as {
        readonly chain: string
        readonly addresses: ReadonlyArray<string>
        readonly fromBlock: number
        readonly toBlock: number
      }
      const events = all.get("chain/sync-events") as { readonly address: string }
      assert.strictEqual(scan.chain, "dev")
      // The start's two lines: the chain and what was seeded, then the scan example to try (the first two participants).
      assert.deepStrictEqual(printed, [
        `dev chain  ${chain.url}  (Hardhat, chain id ${chain.chainId}; ERC-20 ${events.address}, blocks ${scan.fromBlock}-${scan.toBlock} seeded)\n` +
        `  try: chain/scan-addresses ${JSON.stringify({ chain: "dev", addresses: scan.addresses, fromBlock: scan.fromBlock, toBlock: scan.toBlock })}`
      ])
      assert.strictEqual(scan.addresses.length, 2)
      // 30 rounds seeded: one ETH transfer among the participants each (at least 10^15 wei; the bystanders send 1 wei).
      const seeded = yield* minedAfter(chain.url, scan.fromBlock - 1, 0, scan.toBlock)
      assert.strictEqual(seeded.filter((mined) => BigInt(mined.value) >= 10n ** 15n).length, 30)
      const [eth1, token1, eth2, token2] = yield* minedAfter(chain.url, scan.toBlock, 4)
      const same = (a: string, b: string) => assert.strictEqual(a.toLowerCase(), b.toLowerCase())
      // Round 1: 10^14 wei to the next participant, then 1 token unit to it from the same sender.
      assert.strictEqual(BigInt(eth1.value), 10n ** 14n)
      assert.notStrictEqual(eth1.from.toLowerCase(), eth1.to.toLowerCase())
      same(token1.from, eth1.from)
      same(token1.to, events.address)
      same(token1.input, DevActivity.transferData(eth1.to, 1n))
      // Round 2 sends from round 1's receiver.
      same(eth2.from, eth1.to)
      assert.strictEqual(BigInt(eth2.value), 2n * 10n ** 14n)
      same(token2.input, DevActivity.transferData(eth2.to, 2n))
    }).pipe(Effect.scoped), 60_000)
})
