/**
 * What the Sui adapter makes of a node's answers beyond the plain ones: owners
 * that are no address (frozen, shared, another object's, null), a published
 * package, answers leaving fields out, a sponsor paying the gas, a balance
 * change of zero, generic events, a watch naming its event types in full, a
 * coin type that does not parse, the genesis checkpoint, transactions no
 * checkpoint holds yet, and a gateway answering text instead of JSON-RPC.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as SuiAdapter from "../src/SuiAdapter.ts"
import * as SuiStandIn from "./SuiStandIn.ts"

/** `0x` and 64 hex digits of a short address. */
const long = (hex: string) => `0x${hex.padStart(64, "0")}`
const sui = "0x2::sui::SUI"
const [alice, bob, dave] = [long("a1"), long("b0b"), long("da")]
const [frozen, shared, field, held, pool, pkg] = ["f1", "5a", "f1e1d", "4e1d", "9001", "beef"].map(long) as [string, string, string, string, string, string]
const eventType = `${SuiStandIn.spec.sui_getEvents[0].type}`
const eventPackage = eventType.split("::")[0]!

/** The one checkpoint holding the transactions, scanned for the filter. */
const scanOne = (transactions: ReadonlyArray<SuiStandIn.Transaction>, filter: Parameters<ReturnType<typeof SuiAdapter.make>["scan"]>[0]) =>
  Effect.gen(function*() {
    const node = yield* SuiStandIn.make()
    const checkpoint = node.addCheckpoint(transactions)
    return yield* SuiAdapter.make(yield* SuiStandIn.client(node.url)).scan(filter, checkpoint, checkpoint)
  })

describe("owners that are no address", () => {
  it.live("an object frozen, shared, or owned by another object goes to no one; a transferred one to its new owner; a balance change of a null owner is skipped", () =>
    Effect.gen(function*() {
      const found = yield* scanOne([{
        sender: alice,
        changes: [{ owner: alice, written: { written: null }, coinType: sui, amount: -1n }, { owner: alice, coinType: sui, amount: -2n }],
        objects: [
          { objectId: frozen, change: "created", owner: { written: "Immutable" } },
          { objectId: shared, change: "mutated", owner: { written: { Shared: { initial_shared_version: "1" } } } },
          { objectId: field, change: "created", owner: { written: { ObjectOwner: pool } } },
          { objectId: held, change: "transferred", owner: bob }
        ]
      }], { accounts: [alice], contracts: [], objects: [frozen, shared, field, held] })
      assert.deepStrictEqual(found.map((item) => [item.kind, item.contract, item.event, item.from, item.to, item.amount, item.position]), [
        // the second balance change: the first (a null owner) names no one
        ["native", null, null, alice, null, "2", 1],
        ["object", frozen, "created", alice, null, null, 2],
        ["object", shared, "mutated", alice, null, null, 3],
        ["object", field, "created", alice, null, null, 4],
        ["object", held, "transferred", alice, bob, null, 5]
      ])
    }).pipe(Effect.scoped))
})

describe("a published package", () => {
  it.live("is an item of its package id when watched (its details as args, no type), and does not stop a scan of other objects", () =>
    Effect.gen(function*() {
      const found = yield* scanOne([
        { sender: alice, changes: [], objects: [{ objectId: pkg, change: "published" }, { objectId: pool, change: "created" }] }
      ], { accounts: [], contracts: [], objects: [pkg, pool] })
      assert.deepStrictEqual(found.map((item) => [item.contract, item.event, item.asset, item.to, item.position]), [
        [pkg, "published", null, null, 0],
        [pool, "created", "0x2::example::Object", alice, 1]
      ])
      assert.deepInclude(found[0]!.args, { packageId: pkg, modules: ["example"] })
    }).pipe(Effect.scoped))
})

describe("answers leaving fields out", () => {
  it.live("a transaction without its input data, events or balance changes, or without its object changes: the rest is kept, from no one when the sender is not given", () =>
    Effect.gen(function*() {
      const found = yield* scanOne([
        { sender: alice, changes: [], objects: [{ objectId: pool, change: "mutated" }], omits: ["transaction", "events", "balanceChanges"] },
        { sender: alice, changes: [], reads: [pool], omits: ["objectChanges", "events", "balanceChanges"] },
        { sender: alice, changes: [{ owner: bob, coinType: sui, amount: 2n }], omits: ["transaction"] }
      ], { accounts: [bob], contracts: [{ address: eventPackage, events: ["test::TestEvent"] }], objects: [pool] })
      assert.sameDeepMembers(found.map((item) => [item.kind, item.event, item.from, item.to, item.amount, item.position]), [
        ["object", "mutated", null, alice, null, 0],
        ["object", "read", alice, null, null, 0],
        ["native", null, null, bob, "2", 0]
      ])
    }).pipe(Effect.scoped))

  it.live("a transaction's status without its effects: included, not known to have succeeded", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const checkpoint = node.addCheckpoint([{ sender: alice, changes: [], omits: ["effects"] }])
      const adapter = SuiAdapter.make(yield* SuiStandIn.client(node.url))
      assert.deepStrictEqual(yield* adapter.transactionStatus(node.added.at(-1)!.digest), { _tag: "Included", block: checkpoint, succeeded: false })
    }).pipe(Effect.scoped))
})

describe("balance changes", () => {
  it.live("a sponsor paying the gas of another's transaction spent it: from the sponsor; a change of zero reads as received from the sender", () =>
    Effect.gen(function*() {
      const found = yield* scanOne([{
        sender: alice,
        changes: [{ owner: dave, coinType: sui, amount: -3n }, { owner: bob, coinType: sui, amount: 0n }]
      }], { accounts: [bob, dave], contracts: [] })
      assert.deepStrictEqual(found.map((item) => [item.from, item.to, item.amount]), [
        [dave, null, "3"],
        [alice, bob, "0"]
      ])
    }).pipe(Effect.scoped))

  it.live("a coin type the node writes that does not parse is kept as written, a token", () =>
    Effect.gen(function*() {
      const found = yield* scanOne([{ sender: alice, changes: [{ owner: bob, coinType: "garbage", amount: 4n }] }], { accounts: [bob], contracts: [] })
      assert.deepStrictEqual(found.map((item) => [item.kind, item.asset, item.amount]), [["token", "garbage", "4"]])
    }).pipe(Effect.scoped))
})

describe("watched event types", () => {
  it.live("a generic event is matched by its struct, without its type parameters; a watch may name the type in full", () =>
    Effect.gen(function*() {
      const generic = `${eventType}<0x2::sui::SUI, 0x2::coin::Coin<0x2::sui::SUI>>`
      const transactions = [{ sender: alice, changes: [], events: [{ type: generic, fields: { n: 1 } }, { type: eventType, fields: { n: 2 } }] }]
      for (const events of [["test::TestEvent"], [eventType], [eventType.replace(/^0x0*/, "0x")]]) {
        const found = yield* scanOne(transactions, { accounts: [], contracts: [{ address: eventPackage, events }] })
        assert.deepStrictEqual(found.map((item) => [item.event, item.args]), [["TestEvent", { n: 1 }], ["TestEvent", { n: 2 }]], events[0])
      }
    }).pipe(Effect.scoped))
})

describe("the genesis checkpoint", () => {
  it.live("has no parent: its block's parent hash is empty", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const [genesis] = yield* SuiAdapter.make(yield* SuiStandIn.client(node.url)).blocks([0])
      assert.strictEqual(genesis!.number, 0)
      assert.strictEqual(genesis!.parentHash, "")
    }).pipe(Effect.scoped))
})

describe("transactions no checkpoint holds yet", () => {
  it.live("a status read with the checkpoint absent or null is Pending", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const adapter = SuiAdapter.make(yield* SuiStandIn.client(node.url))
      for (const checkpoint of ["absent", "null"] as const) {
        const [digest] = node.addPending([{ sender: alice, changes: [] }], checkpoint)
        assert.deepStrictEqual(yield* adapter.transactionStatus(digest!), { _tag: "Pending" }, checkpoint)
      }
    }).pipe(Effect.scoped))
})

describe("a gateway answering text instead of JSON-RPC", () => {
  it.live("a page saying 'not found' fails a transaction's status: it is not the node's word that the transaction is unknown", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const adapter = SuiAdapter.make(yield* SuiStandIn.clientWithoutRetries(node.url))
      node.inject({ body: "404 page not found" })
      const error = yield* Effect.flip(adapter.transactionStatus("3f7gXBZ2VpyKkaKo5Q5sGbAi7YjUpMqXyHnDd3MXwnio"))
      assert.include(error.message, "404 page not found")
    }).pipe(Effect.scoped))

  it.live("a page quoting 'InputObject ... not supported' fails a query catch-up: only the node's JSON-RPC refusal turns it to reading checkpoints", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const numbers: Array<number> = []
      for (let index = 0; index < 80; index++) numbers.push(node.addCheckpoint(index === 40 ? [{ sender: alice, changes: [], reads: [pool] }] : []))
      const adapter = SuiAdapter.make(yield* SuiStandIn.clientWithoutRetries(node.url))
      node.inject({ body: "InputObject filters are not supported here" })
      const error = yield* Effect.flip(adapter.scan({ accounts: [], contracts: [], objects: [pool] }, numbers[0]!, numbers[79]!))
      assert.include(error.message, "InputObject filters are not supported here")
      assert.isFalse(node.requests.some((request) => request.method === "sui_multiGetTransactionBlocks"))
    }).pipe(Effect.scoped))
})

describe("an owner sequenced by consensus", () => {
  it.live("an object or a balance owned by an address through consensus (ConsensusAddressOwner) goes to that address; a malformed one to no one", () =>
    Effect.gen(function*() {
      const consensus = (owner: unknown) => ({ written: { ConsensusAddressOwner: owner } })
      const found = yield* scanOne([{
        sender: alice,
        changes: [{ owner: bob, written: consensus({ owner: "0xb0b", start_version: "7" }), coinType: sui, amount: 5n }],
        objects: [
          { objectId: held, change: "transferred", owner: consensus({ owner: "0xb0b", start_version: "7" }) },
          { objectId: pool, change: "mutated", owner: consensus({ start_version: "7" }) },
          { objectId: shared, change: "mutated", owner: consensus(null) },
          { objectId: field, change: "created", owner: consensus("0xb0b") }
        ]
      }], { accounts: [bob], contracts: [], objects: [held, pool, shared, field] })
      assert.deepStrictEqual(found.map((item) => [item.kind, item.contract, item.from, item.to, item.amount, item.position]), [
        ["native", null, alice, bob, "5", 0],
        ["object", held, alice, bob, null, 1],
        ["object", pool, alice, null, null, 2],
        ["object", shared, alice, null, null, 3],
        ["object", field, alice, null, null, 4]
      ])
    }).pipe(Effect.scoped))
})
