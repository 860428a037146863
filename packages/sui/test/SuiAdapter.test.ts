import { ChainAdapter } from "@chainjobs/watch"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schema } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import * as SuiAdapter from "../src/SuiAdapter.ts"
import * as SuiCheck from "../src/SuiCheck.ts"
import * as SuiStandIn from "./SuiStandIn.ts"

const standInNetwork = SuiStandIn.network

const spec = SuiStandIn.spec
const usdc = "0x168da5bf1f48dafc111b0a488fa454aca95e0b5e::usdc::USDC"
const [alice, bob, carol] = ["0xa1", "0xb0b", "0xca401"].map((short) => `0x${short.slice(2).padStart(64, "0")}`) as [string, string, string]
const eventType = `${spec.sui_getEvents[0].type}`

const client = (urls: ReadonlyArray<string>) => SuiStandIn.client(...urls)

/**
 * The time limit of a test that scans a range of dozens of checkpoints in
 * pages of 2, several times over: the resume test took 1.3 s on a quiet
 * machine and 4.3 s at load average 14 (the scans are CPU work of this
 * process: the SDK client, the stand-in, Effect), so vitest's 5-second
 * default is within reach at load 20, where it failed once.
 */
const scanLimit = 60_000

describe("Sui addresses", () => {
  const digits = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 15 }))).check(Schema.isMinLength(1), Schema.isMaxLength(64))
  it.prop(
    "any 1 to 64 hex digits, with or without 0x, in any letter case, read as 0x and 64 lowercase digits",
    { hex: digits, prefixed: Schema.Boolean, upper: Schema.Boolean },
    ({ hex, prefixed, upper }) => {
      const text = hex.map((digit) => digit.toString(16)).join("")
      const result = SuiAdapter.normalizeAccount(`${prefixed ? "0x" : ""}${upper ? text.toUpperCase() : text}`)
      return result.ok === true && result.account === `0x${text.padStart(64, "0")}`
    }
  )
  it.prop(
    "a non-hex character anywhere, or more than 64 digits, is refused with an explanation",
    { hex: digits, at: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 64 })), bad: Schema.Literals(["g", "z", " ", "-", ":", "x"]) },
    ({ hex, at, bad }) => {
      const text = hex.map((digit) => digit.toString(16)).join("")
      const broken = `0x${text.slice(0, at)}${bad}${text.slice(at)}`
      const long = `0x${text.padStart(65, "1")}`
      return [broken, long].every((account) => {
        const result = SuiAdapter.normalizeAccount(account)
        return !result.ok && result.detail.includes(account)
      })
    }
  )
})

describe("SuiAdapter on the stand-in node", () => {
  it.live("the connection check reports the specification's chain identifier, the latest checkpoint and a latency, with the API key sent", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      node.addCheckpoint([])
      const result = yield* SuiCheck.check(yield* client([node.url]), node.url)
      assert.deepInclude(result, { endpoint: node.url, chainIdentifier: "4c78adac", latestCheckpoint: SuiStandIn.firstCheckpoint + 1 })
      assert.isTrue(result.latencyMillis >= 0)
      assert.isTrue(node.requests.length >= 2 && node.requests.every((request) => request.apiKey === "test-key"))
    }).pipe(Effect.scoped))

  it.live("checkUrl checks one endpoint by URL, sending its headers", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const result = yield* SuiCheck.checkUrl(node.url, { headers: { "x-api-key": "cli-key" } })
      assert.deepInclude(result, { endpoint: node.url, chainIdentifier: "4c78adac", latestCheckpoint: SuiStandIn.firstCheckpoint })
      assert.isTrue(node.requests.every((request) => request.apiKey === "cli-key"))
    }).pipe(Effect.scoped))

  it.live("a checkpoint reads as a block: the specification's example checkpoint, and the chain built on it linked by digest", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const next = node.addCheckpoint([])
      const adapter = SuiAdapter.make(yield* client([node.url]))
      assert.strictEqual(yield* adapter.head, next)
      const [first, second] = yield* adapter.blocks([SuiStandIn.firstCheckpoint, next])
      assert.deepStrictEqual(first, {
        number: 1000,
        hash: "G6Dtzr1ZSfHFhotGsTE3cLENa7L1ooe1BBvknAUsARbV",
        parentHash: "6tBy8RXZKrdrB4XkMQn7J3MNG4fQCo9XcRduFFvYrL5Z"
      })
      assert.strictEqual(second!.parentHash, first!.hash)
    }).pipe(Effect.scoped))

  it.live("a scan reads each checkpoint's transactions in batches of digests and keeps the monitored addresses' balance changes and the watched event types", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxMultiGet: 2 })
      const adapter = SuiAdapter.make(yield* client([node.url]), { multiGetLimit: 2 })
      const checkpoint = node.addCheckpoint([
        { sender: alice, changes: [{ owner: alice, coinType: "0x2::sui::SUI", amount: -5n }, { owner: bob, coinType: "0x2::sui::SUI", amount: 5n }] },
        { sender: carol, changes: [{ owner: carol, coinType: usdc, amount: -3n }] },
        { sender: carol, changes: [], events: [{ type: eventType, fields: { test: "example value" } }] },
        { sender: carol, changes: [], events: [{ type: spec.suix_queryEvents[0].type, fields: { other: 1 } }] },
        { sender: carol, changes: [{ owner: carol, coinType: usdc, amount: -2n }, { owner: alice, coinType: usdc, amount: 2n }] }
      ])
      const found = yield* adapter.scan({
        accounts: ["0xA1"],
        contracts: [{ address: eventType.split("::")[0]!, events: ["test::TestEvent"] }]
      }, checkpoint, checkpoint)
      // five transactions in batches of two: three batches asked for the checkpoint
      assert.deepStrictEqual([...node.multiGetSizes].sort(), [1, 2, 2])
      const summary = found.map((item) => [item.kind, item.from, item.to, item.amount, item.asset, item.event])
      assert.sameDeepMembers(summary, [
        ["native", alice, null, "5", null, null],
        ["token", carol, alice, "2", SuiAdapterCoin(usdc), null],
        ["event", null, null, null, null, "TestEvent"]
      ])
      assert.isTrue(found.every((item) => item.block === checkpoint && item.chain === "sui"))
      const event = found.find((item) => item.kind === "event")!
      assert.deepStrictEqual(event.args, { test: "example value" })
    }).pipe(Effect.scoped))

  it.live("balances: the specification's suix_getBalance example, and SUI as the native asset", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const adapter = SuiAdapter.make(yield* client([node.url]))
      assert.strictEqual(yield* adapter.balance(spec.suix_getBalance_owner, usdc), 15n)
      node.setBalance(bob, "0x2::sui::SUI", 1_000_000_000n)
      assert.strictEqual(yield* adapter.balance(bob, "native"), 1_000_000_000n)
    }).pipe(Effect.scoped))

  it.live("a 429, a 503, a stalled request and a truncated body are each retried through the endpoint layers", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      // the stalled request is given up after 2 s: longer than a loaded machine takes to answer the others, which must not be retried
      const adapter = SuiAdapter.make(yield* SuiStandIn.clientWith("2 seconds", node.url))
      node.inject("429", "503", "stall", "truncate")
      assert.strictEqual(yield* adapter.head, SuiStandIn.firstCheckpoint)
      assert.strictEqual(node.requests.length, 5)
    }).pipe(Effect.scoped))

  it.live("an endpoint that keeps failing is failed over to the next one; a node's verdict is not retried", () =>
    Effect.gen(function*() {
      const failing = yield* SuiStandIn.make()
      const healthy = yield* SuiStandIn.make()
      failing.inject(...Array.from({ length: 50 }, () => "503" as const))
      const adapter = SuiAdapter.make(yield* client([failing.url, healthy.url]))
      assert.strictEqual(yield* adapter.head, SuiStandIn.firstCheckpoint)
      assert.isTrue(healthy.requests.length >= 1)
      // a transaction the node does not know is pending, not a failure
      assert.deepStrictEqual(yield* adapter.transactionStatus("8QrPa4x9iNG5r2zQfmeH8pJoVjjtq9AGzp8rp2fxi8Sk"), { _tag: "Pending" })
      const exit = yield* Effect.exit(adapter.blocks([SuiStandIn.firstCheckpoint + 50]))
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.scoped))

  it.live("addresses and contract watches are checked: bad input is refused with an explanation", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const adapter = SuiAdapter.make(yield* client([node.url]))
      assert.deepStrictEqual(adapter.normalizeAccount("0xA1"), { ok: true, account: alice })
      assert.isFalse(adapter.normalizeAccount("0xzz").ok)
      assert.isFalse(adapter.normalizeAccount(`0x${"1".repeat(65)}`).ok)
      assert.isUndefined(adapter.checkContract({ address: "0x9", events: ["test::TestEvent"] }))
      // a full type names its package: 0x and 1 to 64 hex digits, or the digits alone
      assert.isUndefined(adapter.checkContract({ address: "0x9", events: [`0x${"ab".repeat(32)}::pool::Swapped`, "ab12::pool::Swapped", "_m::_S1"] }))
      assert.strictEqual(
        adapter.checkContract({ address: "0x9", events: ["Transfer(address,uint256)"] }),
        `"Transfer(address,uint256)" is not a Move event type (module::Struct)`
      )
      for (const bad of ["1mod::Event", "mod::Event::extra", " mod::Event", "mod::Event ", "0xzz::mod::Event", `0x${"1".repeat(65)}::m::E`, "::m::E", "m::"]) {
        assert.strictEqual(adapter.checkContract({ address: "0x9", events: ["test::TestEvent", bad] }), `"${bad}" is not a Move event type (module::Struct)`)
      }
      assert.strictEqual(adapter.checkContract({ address: "nope", events: ["test::TestEvent"] }), `"nope" is not a Sui package id`)
      assert.strictEqual(adapter.checkContract({ address: "0x9", events: [] }), "package 0x9 lists no event types")
    }).pipe(Effect.scoped))

  it.live("the layer serves the configured networks by name and refuses others", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const adapters = yield* Effect.provide(Effect.service(ChainAdapter.ChainAdapters), SuiAdapter.layerMemory([standInNetwork([node.url], "sui-test")]))
      assert.strictEqual((yield* adapters.adapter("sui-test")).family, "sui")
      assert.isTrue(Exit.isFailure(yield* Effect.exit(adapters.adapter("mainnet"))))
    }).pipe(Effect.scoped))
})

/** The canonical spelling of a coin type, as items carry it. */
function SuiAdapterCoin(coinType: string): string {
  const [address, ...rest] = coinType.split("::")
  return [`0x${address!.replace(/^0x/, "").padStart(64, "0")}`, ...rest].join("::")
}

describe("all coin balances of an owner, and Sui networks beside other chains", () => {
  const sui = SuiAdapterCoin("0x2::sui::SUI")

  it.live("allBalances: the specification's suix_getAllBalances example, and every coin type an owner holds, canonical and ordered", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const suiClient = yield* client([node.url])
      assert.deepStrictEqual(yield* SuiAdapter.allBalances(suiClient, spec.suix_getAllBalances_owner), [
        { coinType: sui, amount: 3_000_000_000n, coinObjects: 15 }
      ])
      node.addCheckpoint([{ sender: carol, changes: [{ owner: alice, coinType: usdc, amount: 7n }, { owner: alice, coinType: "0x2::sui::SUI", amount: 9n }] }])
      const held = yield* SuiAdapter.allBalances(suiClient, "0xa1")
      assert.deepStrictEqual(held.map((balance) => [balance.coinType, balance.amount]), [[sui, 9n], [SuiAdapterCoin(usdc), 7n]].sort((a, b) => String(a[0]).localeCompare(String(b[0]))))
      // a bad owner is refused before anything is asked
      const before = node.requests.length
      const error = yield* Effect.flip(SuiAdapter.allBalances(suiClient, "0xnot-hex"))
      assert.strictEqual(error.reason._tag, "Invalid")
      assert.include(error.message, "0xnot-hex")
      assert.strictEqual(node.requests.length, before)
    }).pipe(Effect.scoped))

  it.live("layerBeside: a Sui network's name is served by its adapter, every other name by the adapters beneath", () =>
    Effect.gen(function*() {
      const beneathNode = yield* SuiStandIn.make()
      const besideNode = yield* SuiStandIn.make()
      besideNode.addCheckpoint([])
      besideNode.addCheckpoint([])
      const layer = SuiAdapter.layerBeside([standInNetwork([besideNode.url], "sui-beside")]).pipe(
        Layer.provide(SuiAdapter.layer([standInNetwork([beneathNode.url], "sui-beneath")])),
        Layer.provide([RateLimiter.layerStoreMemory, CircuitBreaker.layerStoreMemory()])
      )
      const [beside, beneath, unknown] = yield* Effect.gen(function*() {
        const adapters = yield* ChainAdapter.ChainAdapters
        const beside = yield* Effect.flatMap(adapters.adapter("sui-beside"), (adapter) => adapter.head)
        const beneath = yield* Effect.flatMap(adapters.adapter("sui-beneath"), (adapter) => adapter.head)
        const unknown = yield* Effect.exit(adapters.adapter("nowhere"))
        return [beside, beneath, unknown] as const
      }).pipe(Effect.provide(layer))
      assert.strictEqual(beside, SuiStandIn.firstCheckpoint + 2)
      assert.strictEqual(beneath, SuiStandIn.firstCheckpoint)
      assert.isTrue(Exit.isFailure(unknown))
    }).pipe(Effect.scoped))
})

describe("catching up over a long range by address and event-type queries", () => {
  const sui = "0x2::sui::SUI"
  const [dave, erin] = ["0xda", "0xe1"].map((short) => `0x${short.slice(2).padStart(64, "0")}`) as [string, string]
  const transfer = (sender: string, to: string, amount: bigint, coinType = sui): SuiStandIn.Transaction => ({
    sender,
    changes: [{ owner: sender, coinType, amount: -amount }, { owner: to, coinType, amount }]
  })
  const watchedEvent = (sender: string): SuiStandIn.Transaction => ({ sender, changes: [], events: [{ type: eventType, fields: { test: sender } }] })
  const otherEvent = (sender: string): SuiStandIn.Transaction => ({ sender, changes: [], events: [{ type: spec.suix_queryEvents[0].type, fields: { other: 1 } }] })

  /** A chain of `length` checkpoints with sparse activity of watched and unwatched addresses and events, some before the scanned range. */
  const seed = (node: SuiStandIn.StandIn, length: number) => {
    const plan = new Map<number, Array<SuiStandIn.Transaction>>([
      [3, [transfer(bob, alice, 11n)]],
      [10, [transfer(alice, dave, 4n), otherEvent(carol)]],
      [25, [watchedEvent(erin), transfer(carol, erin, 2n, usdc)]],
      [60, [transfer(bob, alice, 3n, usdc), watchedEvent(carol)]],
      [61, [transfer(dave, erin, 8n)]],
      [97, [transfer(alice, bob, 1n), transfer(bob, alice, 1n)]],
      [length - 1, [watchedEvent(alice), transfer(erin, alice, 5n)]]
    ])
    const numbers: Array<number> = []
    for (let index = 0; index < length; index++) numbers.push(node.addCheckpoint(plan.get(index) ?? []))
    return numbers
  }

  it.live("the query path finds the same items as reading every checkpoint, with far fewer requests", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const numbers = seed(node, 160)
      // the range starts after the first transfer to alice, which the query path reads past and drops
      const [from, to] = [numbers[5]!, numbers.at(-1)!]
      const filter = { accounts: [alice, "0xb0b"], contracts: [{ address: eventType.split("::")[0]!, events: ["test::TestEvent"] }] }
      const suiClient = yield* client([node.url])
      const before = node.requests.length
      const byCheckpoint = yield* SuiAdapter.make(suiClient, { catchUpAfter: Number.MAX_SAFE_INTEGER }).scan(filter, from, to)
      const checkpointRequests = node.requests.length - before
      const byQuery = yield* SuiAdapter.make(suiClient, { catchUpAfter: 64 }).scan(filter, from, to)
      const queryRequests = node.requests.length - before - checkpointRequests
      assert.deepStrictEqual(byQuery, byCheckpoint)
      const summary = byQuery.map((item) => [item.block - numbers[0]!, item.kind, item.from, item.to, item.amount, item.event])
      assert.sameDeepMembers(summary, [
        [10, "native", alice, null, "4", null],
        [25, "event", null, null, null, "TestEvent"],
        [60, "token", bob, alice, "3", null],
        [60, "event", null, null, null, "TestEvent"],
        [60, "token", bob, null, "3", null],
        [97, "native", alice, null, "1", null],
        [97, "native", alice, bob, "1", null],
        [97, "native", bob, null, "1", null],
        [97, "native", bob, alice, "1", null],
        [159, "event", null, null, null, "TestEvent"],
        [159, "native", erin, alice, "5", null]
      ].filter(([offset]) => (offset as number) + numbers[0]! >= from))
      assert.isBelow(queryRequests * 4, checkpointRequests)
      assert.isTrue(node.requests.slice(before + checkpointRequests).some((request) => request.method === "suix_queryEvents"))
    }).pipe(Effect.scoped), scanLimit)

  it.live("a short range, or more addresses than the query path takes, is read checkpoint by checkpoint", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const numbers = seed(node, 100)
      const suiClient = yield* client([node.url])
      yield* SuiAdapter.make(suiClient).scan({ accounts: [alice], contracts: [] }, numbers[0]!, numbers[30]!)
      yield* SuiAdapter.make(suiClient, { querySources: 1 }).scan({ accounts: [alice, bob], contracts: [] }, numbers[0]!, numbers[99]!)
      assert.isFalse(node.requests.some((request) => request.method === "suix_queryTransactionBlocks" || request.method === "suix_queryEvents"))
    }).pipe(Effect.scoped), scanLimit)
})

describe("transaction status and item order", () => {
  it.live("a transaction's status: pending before its checkpoint, then included with its checkpoint, succeeded or failed", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const suiClient = yield* client([node.url])
      const adapter = SuiAdapter.make(suiClient)
      const spec = SuiStandIn.spec
      // the specification's signed transaction, executed; then one that fails in execution
      const executed = yield* suiClient.use((rpc, signal) =>
        rpc.executeTransactionBlock({ transactionBlock: spec.sui_executeTransactionBlock_params.tx_bytes, signature: spec.sui_executeTransactionBlock_params.signatures, signal })
      )
      assert.deepStrictEqual(yield* adapter.transactionStatus(executed.digest), { _tag: "Pending" })
      const checkpoint = node.addCheckpoint([])
      assert.deepStrictEqual(yield* adapter.transactionStatus(executed.digest), { _tag: "Included", block: checkpoint, succeeded: true })
      const failing = node.addCheckpoint([{ sender: alice, changes: [] }])
      const digest = node.added.at(-1)!.digest
      node.failInExecution(digest, "MoveAbort(…, 1) in command 0")
      assert.deepStrictEqual(yield* adapter.transactionStatus(digest), { _tag: "Included", block: failing, succeeded: false })
    }).pipe(Effect.scoped))

  it.live("items of one transaction come in their positions' order: its events, then its balance changes", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const adapter = SuiAdapter.make(yield* client([node.url]))
      const checkpoint = node.addCheckpoint([{
        sender: bob,
        changes: [{ owner: bob, coinType: "0x2::sui::SUI", amount: -9n }, { owner: alice, coinType: "0x2::sui::SUI", amount: 9n }],
        events: [{ type: eventType, fields: { n: 1 } }, { type: eventType, fields: { n: 2 } }]
      }])
      const found = yield* adapter.scan({ accounts: [alice, bob], contracts: [{ address: eventType.split("::")[0]!, events: ["test::TestEvent"] }] }, checkpoint, checkpoint)
      assert.deepStrictEqual(found.map((item) => [item.kind, item.position, item.from, item.to, item.amount]), [
        ["event", 0, null, null, null],
        ["event", 1, null, null, null],
        ["native", 2, bob, null, "9"],
        ["native", 3, bob, alice, "9"]
      ])
    }).pipe(Effect.scoped))
})

describe("watching objects", () => {
  const sui = "0x2::sui::SUI"
  const pool = `0x${"9001".padStart(64, "0")}`
  const nft = `0x${"9002".padStart(64, "0")}`
  const other = `0x${"9003".padStart(64, "0")}`
  const objects = (sender: string, ...writes: ReadonlyArray<SuiStandIn.ObjectWrite>): SuiStandIn.Transaction => ({
    sender,
    changes: [{ owner: sender, coinType: sui, amount: -1n }],
    objects: writes
  })

  it.prop(
    "an object id is written like an address: any 1 to 64 hex digits read canonical; anything else is refused with an explanation",
    {
      hex: Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 15 }))).check(Schema.isMinLength(1), Schema.isMaxLength(64)),
      bad: Schema.Literals(["g", " ", "::", "x", "-"])
    },
    ({ hex, bad }) => {
      const text = hex.map((digit) => digit.toString(16)).join("")
      const good = SuiAdapter.normalizeObject(`0x${text.toUpperCase()}`)
      const refused = [`0x${text}${bad}`, `0x${text.padStart(65, "1")}`, "0x", ""].map(SuiAdapter.normalizeObject)
      // a boolean, not a falsy value: fast-check fails a property only on false (or a throw)
      return good.ok === true && good.object === `0x${text.padStart(64, "0")}` &&
        refused.every((result) => !result.ok && result.detail.includes("is not a Sui object id"))
    }
  )

  it.live("each change of a watched object is an item, after the transaction's events and balance changes, and so is each read of it (an input left unchanged); the query path finds the same by AffectedObject and InputObject", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const plan = new Map<number, SuiStandIn.Transaction>([
        [2, objects(alice, { objectId: pool, change: "created" })],
        [20, objects(bob, { objectId: pool, change: "mutated" }, { objectId: other, change: "mutated" })],
        [21, objects(carol, { objectId: other, change: "created" })],
        [30, { ...objects(carol), reads: [pool] }],
        [40, objects(alice, { objectId: nft, change: "created", type: "0xabc::art::Piece" })],
        [70, objects(alice, { objectId: nft, change: "transferred", owner: carol, type: "0xabc::art::Piece" })],
        [75, { ...objects(bob, { objectId: other, change: "mutated" }), reads: [nft] }],
        [99, objects(bob, { objectId: pool, change: "mutated" }, { objectId: nft, change: "wrapped", type: "0xabc::art::Piece" })],
        [100, objects(carol, { objectId: pool, change: "deleted" })]
      ])
      const numbers: Array<number> = []
      for (let index = 0; index < 110; index++) {
        const planned = plan.get(index)
        numbers.push(node.addCheckpoint(planned === undefined ? [] : [planned]))
      }
      const suiClient = yield* client([node.url])
      // the range starts after the pool's creation, which the query path reads past and drops
      const [from, to] = [numbers[5]!, numbers.at(-1)!]
      const filter = { accounts: [], contracts: [], objects: [pool, nft.replace(/0x0+/, "0x")] }
      const before = node.requests.length
      const byCheckpoint = yield* SuiAdapter.make(suiClient, { catchUpAfter: Number.MAX_SAFE_INTEGER }).scan(filter, from, to)
      const checkpointRequests = node.requests.length - before
      const byQuery = yield* SuiAdapter.make(suiClient).scan(filter, from, to)
      const queryRequests = node.requests.length - before - checkpointRequests
      assert.deepStrictEqual(byQuery, byCheckpoint)
      assert.deepStrictEqual(byQuery.map((item) => [item.block - numbers[0]!, item.kind, item.contract, item.event, item.from, item.to, item.asset, item.position]), [
        [20, "object", pool, "mutated", bob, bob, "0x2::example::Object", 1],
        // only InputObject finds a read: it changes no object
        [30, "object", pool, "read", carol, null, null, 1],
        // only AffectedObject finds a creation: a created object is no input
        [40, "object", nft, "created", alice, alice, "0xabc::art::Piece", 1],
        [70, "object", nft, "transferred", alice, carol, "0xabc::art::Piece", 1],
        // after the transaction's balance change, its object change and its first object input (the object it mutates)
        [75, "object", nft, "read", bob, null, null, 3],
        [99, "object", pool, "mutated", bob, bob, "0x2::example::Object", 1],
        [99, "object", nft, "wrapped", bob, null, "0xabc::art::Piece", 2],
        [100, "object", pool, "deleted", carol, null, "0x2::example::Object", 1]
      ])
      assert.deepInclude(byQuery[0]!.args, { version: "3", previousVersion: "2" })
      assert.deepStrictEqual(byQuery[1]!.args, { objectType: "sharedObject", initialSharedVersion: "1", mutable: false })
      assert.isBelow(queryRequests * 4, checkpointRequests)
      const asked = node.requests.slice(before + checkpointRequests).filter((request) => request.method === "suix_queryTransactionBlocks")
      assert.isAbove(asked.length, 0)
    }).pipe(Effect.scoped), scanLimit)

  it.live("an endpoint refusing InputObject queries (as an indexer-backed one does): the range is read checkpoint by checkpoint with the same items, and later ranges with objects too", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2, refuseInputObject: true })
      const numbers: Array<number> = []
      for (let index = 0; index < 100; index++) {
        numbers.push(node.addCheckpoint(
          index % 10 === 4 ? [objects(alice, { objectId: pool, change: "mutated" })] : index % 10 === 7 ? [{ ...objects(bob), reads: [pool] }] : []
        ))
      }
      const suiClient = yield* client([node.url])
      const filter = { accounts: [], contracts: [], objects: [pool] }
      const byCheckpoint = yield* SuiAdapter.make(suiClient, { catchUpAfter: Number.MAX_SAFE_INTEGER }).scan(filter, numbers[0]!, numbers[89]!)
      assert.deepStrictEqual(byCheckpoint.map((item) => item.event), Array.from({ length: 9 }, () => ["mutated", "read"]).flat())
      const adapter = SuiAdapter.make(suiClient)
      const queriesAsked = () => node.requests.filter((request) => request.method === "suix_queryTransactionBlocks").length
      assert.deepStrictEqual(yield* adapter.scan(filter, numbers[0]!, numbers[89]!), byCheckpoint)
      assert.isAbove(queriesAsked(), 0)
      const asked = queriesAsked()
      const later = yield* adapter.scan(filter, numbers[10]!, numbers[99]!)
      assert.strictEqual(later.length, 18)
      assert.strictEqual(queriesAsked(), asked)
    }).pipe(Effect.scoped), scanLimit)

  it.live("an event page older than the range is known by its events' time, not by reading their transactions; without times, a page's oldest transaction is read once", () =>
    Effect.gen(function*() {
      for (const eventTimes of [true, false]) {
        const node = yield* SuiStandIn.make({ maxPage: 2, eventTimes })
        const numbers: Array<number> = []
        for (let index = 0; index < 100; index++) {
          numbers.push(node.addCheckpoint(index % 10 === 3 ? [{ sender: alice, changes: [], events: [{ type: eventType, fields: { index } }] }] : []))
        }
        const adapter = SuiAdapter.make(yield* client([node.url]))
        const found = yield* adapter.scan({ accounts: [], contracts: [{ address: eventType.split("::")[0]!, events: ["test::TestEvent"] }] }, numbers[5]!, numbers.at(-1)!)
        assert.strictEqual(found.length, 9)
        const multiGets = node.requests.filter((request) => request.method === "sui_multiGetTransactionBlocks").length
        const pages = node.requests.filter((request) => request.method === "suix_queryEvents").length
        assert.strictEqual(pages, 5)
        // no transaction read twice; with times, the nine in range read together at the end (the tenth, older by its time, not at all)
        assert.strictEqual(new Set(node.multiGetDigests).size, node.multiGetDigests.length)
        assert.deepStrictEqual([multiGets, node.multiGetDigests.length], eventTimes ? [1, 9] : [pages + 1, 10])
      }
    }).pipe(Effect.scoped))
})

/** The query sources of a filter: two per address (sent, received), two per object (changed, read), one per event type. */
const sourcesCount = (filter: { readonly accounts: ReadonlyArray<string>; readonly contracts: ReadonlyArray<{ readonly events: ReadonlyArray<string> }>; readonly objects: ReadonlyArray<string> }) =>
  filter.accounts.length * 2 + filter.objects.length * 2 + filter.contracts.reduce((sum, contract) => sum + contract.events.length, 0)

describe("resuming a query catch-up from its saved state", () => {
  it.live("a state saved midway resumes the same range and sources with the pages left; a state of another range or other sources is not used; each page writes only its own findings and its source's cursor", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const pool = `0x${"9001".padStart(64, "0")}`
      const numbers: Array<number> = []
      for (let index = 0; index < 120; index++) {
        numbers.push(node.addCheckpoint([
          ...(index % 4 === 1 ? [{ sender: alice, changes: [{ owner: alice, coinType: "0x2::sui::SUI", amount: -1n }, { owner: bob, coinType: "0x2::sui::SUI", amount: 1n }] }] : []),
          ...(index % 5 === 2 ? [{ sender: carol, changes: [], events: [{ type: eventType, fields: { index } }] }] : []),
          ...(index % 6 === 3 ? [{ sender: carol, changes: [], objects: [{ objectId: pool, change: "mutated" as const }] }] : [])
        ]))
      }
      const adapter = SuiAdapter.make(yield* client([node.url]))
      const filter = { accounts: [alice], contracts: [{ address: eventType.split("::")[0]!, events: ["test::TestEvent"] }], objects: [pool] }
      const [from, to] = [numbers[10]!, numbers.at(-1)!]
      // the distinct pages asked since request `start` (a request retried after a timeout on a loaded machine is one page)
      const pagesSince = (start: number) =>
        new Set(node.requests.slice(start).filter((request) => request.method === "suix_queryTransactionBlocks" || request.method === "suix_queryEvents")
          .map((request) => JSON.stringify([request.method, request.params]))).size
      // the whole scan, keeping every save (as JSON, as a store keeps it)
      const saves: Array<ReadonlyArray<readonly [string, unknown]>> = []
      const before = node.requests.length
      const whole = yield* adapter.scan(filter, from, to, { saved: new Map(), save: (entries) => Effect.sync(() => void saves.push(JSON.parse(JSON.stringify(entries)))) })
      const pages = pagesSince(before)
      // the checkpoint time read once, then one save a page: its findings and its source's cursor
      assert.strictEqual(saves.length, pages + 1)
      assert.isAbove(whole.length, 30)
      const keys = saves.flatMap((entries) => entries.map(([key]) => key))
      const cursors = keys.filter((key) => key.includes("/query/"))
      assert.isTrue(saves.slice(1).every((entries) => entries.length === 2 && entries.filter(([key]) => key.includes("/query/")).length === 1))
      // every entry but a cursor is written once
      const once = keys.filter((key) => !key.includes("/query/"))
      assert.strictEqual(new Set(once).size, once.length)
      assert.strictEqual(new Set(cursors).size, sourcesCount(filter))
      /** What a store holds after the first `count` saves. */
      const storedAfter = (count: number) => new Map(saves.slice(0, count).flat())
      const resume = (saved: ReadonlyMap<string, unknown>, scanFilter: typeof filter, scanFrom: number) =>
        Effect.gen(function*() {
          const start = node.requests.length
          const found = yield* adapter.scan(scanFilter, scanFrom, to, { saved, save: () => Effect.void })
          return { found, asked: pagesSince(start) }
        })
      const half = Math.floor(pages / 2)
      const midway = storedAfter(half + 1)
      const resumed = yield* resume(midway, filter, from)
      assert.deepStrictEqual(resumed.found, whole)
      assert.strictEqual(resumed.asked, pages - half)
      // everything saved: nothing left to ask
      assert.deepStrictEqual(yield* resume(storedAfter(saves.length), filter, from), { found: whole, asked: 0 })
      // another range, other sources, another layout: read afresh
      const fresh = yield* resume(new Map(), filter, from + 1)
      assert.deepStrictEqual(yield* resume(midway, filter, from + 1), fresh)
      const fewer = { ...filter, objects: [] }
      const freshFewer = yield* resume(new Map(), fewer, from)
      assert.deepStrictEqual(yield* resume(midway, fewer, from), freshFewer)
      const otherLayout = new Map([...midway].map(([key, value]) => [`x${key.slice(1)}`, value]))
      assert.deepStrictEqual(yield* resume(otherLayout, filter, from), { found: whole, asked: pages })
    }).pipe(Effect.scoped), scanLimit)
})
