/**
 * `EvmAdapter` on a real Hardhat node: spelling and checking of accounts and
 * contract watches (hostile input refused with a reason), a range scan's
 * items (account activity and decoded events, in chain order, a transfer
 * seen both ways kept once as its decoded event, a log of another layout
 * skipped), balances, block references, transaction status (pending,
 * succeeded, reverted), and new heads over a WebSocket (and a dead one).
 */
import { DevSeed } from "@chainjobs/devchain"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Schema, Stream } from "effect"
import { encodeFunctionData, isAddress, keccak256, toHex } from "viem"
import { type ChainAdapter, ChainAdapters } from "../src/ChainAdapter.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import * as WatchItem from "../src/WatchItem.ts"
import { address, DevChain, node, reasonOf as failure } from "./fixtures.ts"

const transfer = "Transfer(address indexed from, address indexed to, uint256 value)"
const approval = "Approval(address indexed owner, address indexed spender, uint256 value)"

const adapter = Effect.flatMap(ChainAdapters, (adapters) => adapters.adapter("dev"))

const chains = EvmAdapter.layer.pipe(Layer.provideMerge(DevChain.layerChains()))

layer(chains, { excludeTestServices: true, timeout: 120_000 })("EvmAdapter", (it) => {
  it.effect.prop(
    "an account is spelled in lowercase when it is an EVM address, and refused with a reason naming it otherwise",
    { text: Schema.String },
    ({ text }) =>
      Effect.gen(function*() {
        const evm = yield* adapter
        for (const candidate of [text, `0x${text}`, `0x${Buffer.from(text).toString("hex").padEnd(40, "0").slice(0, 40)}`]) {
          const result = evm.normalizeAccount(candidate)
          if (isAddress(candidate, { strict: false })) {
            assert.deepStrictEqual(result, { ok: true, account: candidate.toLowerCase() })
          } else {
            assert.deepStrictEqual(result, { ok: false, detail: `"${candidate}" is not an EVM address (0x and 40 hex digits)` })
          }
        }
        return true
      }),
    60_000
  )

  it.effect("a contract watch is checked: its address, that it lists events, and each event's signature", () =>
    Effect.gen(function*() {
      const evm = yield* adapter
      const token = address(3)
      assert.isUndefined(evm.checkContract({ address: token, events: [transfer, `event ${approval}`] }))
      assert.strictEqual(evm.checkContract({ address: "0x12", events: [transfer] }), `"0x12" is not an EVM address`)
      assert.strictEqual(evm.checkContract({ address: token, events: [] }), `contract ${token} lists no events`)
      const broken = evm.checkContract({ address: token, events: [transfer, "Transfer(address indexed from"] })
      assert.match(broken ?? "", /^"Transfer\(address indexed from" is not an event signature: /)
      assert.match(evm.checkContract({ address: token, events: ["function balanceOf(address) view returns (uint256)"] }) ?? "", /is not an event signature/)
      assert.strictEqual(evm.family, "evm")
      assert.strictEqual(evm.chain, "dev")
    }), 60_000)

  it.effect("a scan finds the accounts' native and token transfers and the contracts' decoded events in chain order, each once", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* adapter
      const seeded = yield* DevSeed.seed({ rounds: 6, participants: 3, maxGap: 1 })
      const watched = seeded.participants[1]!
      // an approval in the range too: the Approval watch decodes it, the Transfer watch does not
      const approved = yield* node(chain.url).sendUnchecked(0, {
        to: seeded.token,
        data: encodeFunctionData({ abi: DevSeed.tokenAbi, functionName: "approve", args: [address(5), 42n] })
      })
      const to = yield* node(chain.url).head
      const from = seeded.fromBlock

      const accountsOnly = yield* evm.scan({ accounts: [watched], contracts: [] }, from, to)
      const expected = DevSeed.expectedFor(seeded, [watched])
      assert.deepStrictEqual(
        accountsOnly.map((item) => [WatchItem.id(item), item.kind, item.block]),
        expected.map((item) => [
          WatchItem.id({ chain: "dev", transaction: item.transactionHash, position: item.logIndex }),
          item.kind === "native" ? "native" : "token",
          item.blockNumber
        ])
      )
      assert.isTrue(accountsOnly.some((item) => item.kind === "token" && item.asset === seeded.token.toLowerCase()))
      const refs = yield* evm.blocks(Array.from(new Set(accountsOnly.map((item) => item.block))))
      const hashes = new Map(refs.map((ref) => [ref.number, ref.hash]))
      assert.isTrue(accountsOnly.every((item) => item.blockHash === hashes.get(item.block)), "an item's block hash is not its block's")

      // with the token's events watched too: each of the account's token transfers is one item, the decoded event
      const both = yield* evm.scan({ accounts: [watched], contracts: [{ address: seeded.token.toUpperCase().replace("0X", "0x"), events: [transfer, approval] }] }, from, to)
      const tokenTransfers = seeded.activity.filter((item) => item.kind === "erc20")
      const ids = both.map(WatchItem.id)
      assert.strictEqual(new Set(ids).size, ids.length, "an item twice")
      assert.deepStrictEqual(both.filter((item) => item.kind === "token"), [])
      const events = both.filter((item) => item.kind === "event")
      assert.deepStrictEqual(
        events.filter((item) => item.event === "Transfer").map((item) => item.transaction).sort(),
        tokenTransfers.map((item) => item.transactionHash).sort()
      )
      const [approvalItem] = events.filter((item) => item.event === "Approval")
      assert.deepInclude(approvalItem, { transaction: approved, contract: seeded.token.toLowerCase() })
      assert.deepStrictEqual(approvalItem!.args, { owner: DevChain.accounts[0]!.address, spender: DevChain.accounts[5]!.address, value: "42" })
      const sample = events.find((item) => item.event === "Transfer")!
      assert.strictEqual(typeof sample.args?.value, "string")
      assert.deepStrictEqual([sample.from, sample.to, sample.amount, sample.asset], [null, null, null, null])
      // chain order: by block, then by position, a native transfer (no position) before its block's logs
      const order = both.map((item) => [item.block, item.position ?? -1] as const)
      assert.deepStrictEqual(order, [...order].sort((a, b) => a[0] - b[0] || a[1] - b[1]))
      assert.strictEqual(both.length, expected.filter((item) => item.kind === "native").length + tokenTransfers.length + 1)

      // ERC-721's Transfer shares the selector but not the layout: the token's logs are skipped, not a failure
      const nft = yield* evm.scan({
        accounts: [],
        contracts: [{ address: seeded.token, events: ["Transfer(address indexed from, address indexed to, uint256 indexed tokenId)"] }]
      }, from, to)
      assert.deepStrictEqual(nft, [])
      // an empty range of activity and nothing watched: nothing
      assert.deepStrictEqual(yield* evm.scan({ accounts: [address(19)], contracts: [] }, from, to), [])
    }), 60_000)

  it.effect("balances, the head, block references in the order asked, and a transaction pending, succeeded or reverted", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const evm = yield* adapter
      const seeded = yield* DevSeed.seed({ rounds: 1, participants: 2, maxGap: 0 })
      yield* act.setBalance(address(16), 12345n)
      assert.strictEqual(yield* evm.balance(address(16), "native"), 12345n)
      assert.strictEqual(yield* evm.balance(address(16), seeded.token), 0n)
      assert.isTrue((yield* evm.balance(address(0), seeded.token)) > 0n, "the deployer holds the token")

      const sent = yield* act.send(6, address(7), 1n)
      const head = yield* act.head
      assert.strictEqual(yield* evm.head, head)
      const refs = yield* evm.blocks([head, head - 1])
      assert.deepStrictEqual(refs.map((ref) => ref.number), [head, head - 1])
      assert.strictEqual(refs[0]!.parentHash, refs[1]!.hash)
      assert.deepStrictEqual(yield* evm.transactionStatus(sent), { _tag: "Included", block: head, succeeded: true })
      // ether sent to the token (it has no payable function) reverts, and is mined all the same (the node refuses
      // a reverting transaction at once while it automines, so it is sent to the pool and then mined)
      const reverted = yield* act.sendReverting(6, seeded.token, (hash) =>
        Effect.map(evm.transactionStatus(hash), (status) => assert.deepStrictEqual(status, { _tag: "Pending" })))
      assert.deepStrictEqual(yield* evm.transactionStatus(reverted), { _tag: "Included", block: head + 1, succeeded: false })
      assert.deepStrictEqual(yield* evm.transactionStatus(keccak256(toHex("never sent"))), { _tag: "Pending" })
      assert.strictEqual(yield* act.head, head + 1)
      // a block past the head is a chain failure, not a defect
      assert.strictEqual(failure(yield* Effect.exit(evm.blocks([head + 1000])))[0], "ChainFailed")
    }), 60_000)

  it.effect("the adapters are made once per chain; an unknown chain is a ChainFailed", () =>
    Effect.gen(function*() {
      const adapters = yield* ChainAdapters
      const first: ChainAdapter = yield* adapters.adapter("dev")
      assert.strictEqual(yield* adapters.adapter("dev"), first)
      assert.isUndefined(first.newHeads, "heads are polled without a WebSocket")
      const [reason, message] = failure(yield* Effect.exit(adapters.adapter("nowhere")))
      assert.strictEqual(reason, "ChainFailed")
      assert.include(message, "chain nowhere")
    }), 60_000)

  it.effect("new heads arrive over the WebSocket as the node mines; a dead WebSocket fails the stream with ChainFailed naming it", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const start = yield* act.head
      // mining goes on until the subscription has delivered two heads (the first may be sent before it is set up)
      const heads = yield* EvmAdapter.newHeads("dev", chain.wsUrl).pipe(
        Stream.take(2),
        Stream.runCollect,
        Effect.raceFirst(Effect.forever(Effect.andThen(act.mine(1), Effect.sleep("50 millis")))),
        Effect.timeoutOrElse({ duration: "30 seconds", orElse: () => Effect.die(new Error("no two heads pushed in 30 s while mining")) })
      )
      const numbers = heads
      assert.strictEqual(numbers.length, 2)
      assert.isTrue(numbers.every((number) => number > start), `heads ${numbers} not after ${start}`)
      assert.isBelow(numbers[0]!, numbers[1]!)
      const dead = yield* Effect.exit(Stream.runDrain(EvmAdapter.newHeads("dev", "ws://127.0.0.1:9/")))
      const [reason, message] = failure(dead)
      assert.strictEqual(reason, "ChainFailed")
      assert.match(message, /^chain dev: ws:\/\/127\.0\.0\.1:9\/: the WebSocket (failed|closed)$/)
    }), 60_000)
})
