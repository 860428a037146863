/**
 * The Sui adapter at its edges, on the stand-in node: the range's first and
 * last checkpoints in a query catch-up, where the query path starts, a
 * checkpoint scan's saved runs, system transactions beside watched objects,
 * and node refusals that must not be taken for something else.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as SuiAdapter from "../src/SuiAdapter.ts"
import * as SuiStandIn from "./SuiStandIn.ts"

const sui = "0x2::sui::SUI"
const [alice, bob, carol] = ["a1", "b0b", "ca401"].map((short) => `0x${short.padStart(64, "0")}`) as [string, string, string]
const pool = `0x${"9001".padStart(64, "0")}`
const eventType = `${SuiStandIn.spec.sui_getEvents[0].type}`
const contract = { address: eventType.split("::")[0]!, events: ["test::TestEvent"] }
const send = (sender: string, to: string): SuiStandIn.Transaction => ({
  sender,
  changes: [{ owner: sender, coinType: sui, amount: -1n }, { owner: to, coinType: sui, amount: 1n }]
})
const emit = (sender: string): SuiStandIn.Transaction => ({ sender, changes: [], events: [{ type: eventType, fields: { sender } }] })
const count = (node: SuiStandIn.StandIn, method: string) => node.requests.filter((request) => request.method === method).length
/** The distinct requests of a method since request `start` (one retried after a timeout on a loaded machine counts once). */
const distinctSince = (node: SuiStandIn.StandIn, method: string, start: number) =>
  new Set(node.requests.slice(start).filter((request) => request.method === method).map((request) => JSON.stringify(request.params))).size

describe("a query catch-up at the range's edges", () => {
  it.live("activity in the range's first and last checkpoints is kept, the checkpoints around them dropped, three transactions of the first split over pages all found", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const numbers: Array<number> = []
      for (let index = 0; index < 90; index++) {
        const at = index === 9 || index === 10 || index === 80 || index === 81
        numbers.push(node.addCheckpoint(at ? [send(alice, bob), emit(carol), ...(index === 10 ? [send(alice, carol), send(alice, carol)] : [])] : []))
      }
      const [from, to] = [numbers[10]!, numbers[80]!]
      const filter = { accounts: [alice], contracts: [contract] }
      const suiClient = yield* SuiStandIn.client(node.url)
      const byCheckpoint = yield* SuiAdapter.make(suiClient, { catchUpAfter: Number.MAX_SAFE_INTEGER }).scan(filter, from, to)
      const before = count(node, "suix_queryTransactionBlocks")
      const byQuery = yield* SuiAdapter.make(suiClient).scan(filter, from, to)
      assert.isAbove(count(node, "suix_queryTransactionBlocks"), before)
      assert.deepStrictEqual(byQuery, byCheckpoint)
      assert.sameDeepMembers(byQuery.map((item) => [item.block - numbers[0]!, item.kind]), [
        [10, "native"],
        [10, "event"],
        [10, "native"],
        [10, "native"],
        [80, "native"],
        [80, "event"]
      ])
    }).pipe(Effect.scoped))

  it.live("each watched address and object is its own query: two addresses that only send, and two objects only read, are all found", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const [dave, erin] = ["da", "e1"].map((short) => `0x${short.padStart(64, "0")}`) as [string, string]
      const other = `0x${"9002".padStart(64, "0")}`
      const numbers: Array<number> = []
      for (let index = 0; index < 80; index++) {
        numbers.push(node.addCheckpoint(
          index === 20 ? [send(alice, carol)] : index === 30 ? [send(bob, carol)] : index === 40 ? [{ sender: carol, changes: [], reads: [pool] }] : index === 50 ? [{ sender: carol, changes: [], reads: [other] }] : [send(dave, erin)]
        ))
      }
      const filter = { accounts: [alice, bob], contracts: [], objects: [pool, other] }
      const found = yield* SuiAdapter.make(yield* SuiStandIn.client(node.url)).scan(filter, numbers[0]!, numbers[79]!)
      assert.isAbove(count(node, "suix_queryTransactionBlocks"), 0)
      assert.deepStrictEqual(found.map((item) => [item.block - numbers[0]!, item.kind, item.from ?? item.contract]), [
        [20, "native", alice],
        [30, "native", bob],
        [40, "object", carol],
        [50, "object", carol]
      ])
    }).pipe(Effect.scoped))

  it.live("the query path takes a range longer than catchUpAfter with no more than querySources addresses, event types and objects; a range of exactly catchUpAfter, or one source more, is read checkpoint by checkpoint", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const numbers: Array<number> = []
      for (let index = 0; index < 40; index++) numbers.push(node.addCheckpoint(index % 7 === 0 ? [send(alice, bob)] : []))
      const suiClient = yield* SuiStandIn.client(node.url)
      const queried = (filter: { accounts: Array<string>; contracts: Array<typeof contract>; objects: Array<string> }, length: number) =>
        Effect.gen(function*() {
          const before = count(node, "suix_queryTransactionBlocks") + count(node, "suix_queryEvents")
          yield* SuiAdapter.make(suiClient, { catchUpAfter: 20, querySources: 3 }).scan(filter, numbers[0]!, numbers[length - 1]!)
          return count(node, "suix_queryTransactionBlocks") + count(node, "suix_queryEvents") > before
        })
      const three = { accounts: [alice], contracts: [contract], objects: [pool] }
      assert.isTrue(yield* queried(three, 21))
      assert.isFalse(yield* queried(three, 20))
      assert.isFalse(yield* queried({ ...three, accounts: [alice, bob] }, 21))
      assert.isFalse(yield* queried({ ...three, contracts: [{ ...contract, events: ["test::TestEvent", "test::Other"] }] }, 21))
    }).pipe(Effect.scoped))
})

describe("a checkpoint-by-checkpoint scan's saved runs", () => {
  it.live("after each run of checkpointRun checkpoints but the last, the run's items (when any) and the next checkpoint are saved; a scan resumed from them reads only the checkpoints after, with the same items", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const numbers: Array<number> = []
      for (let index = 0; index < 40; index++) numbers.push(node.addCheckpoint(index % 5 === 1 && index < 20 ? [send(alice, bob)] : []))
      const adapter = SuiAdapter.make(yield* SuiStandIn.client(node.url), { checkpointRun: 8 })
      const filter = { accounts: [alice], contracts: [] }
      const [from, to] = [numbers[0]!, numbers[35]!]
      const saves: Array<ReadonlyArray<readonly [string, unknown]>> = []
      const whole = yield* adapter.scan(filter, from, to, { saved: new Map(), save: (entries) => Effect.sync(() => void saves.push(JSON.parse(JSON.stringify(entries)))) })
      assert.strictEqual(whole.length, 4)
      // 36 checkpoints in runs of 8: saved after the first four runs, not after the last (its items are returned at once)
      const nexts = saves.map((entries) => entries.find(([key]) => key.endsWith("/next"))?.[1])
      assert.deepStrictEqual(nexts, [from + 8, from + 16, from + 24, from + 32])
      // runs that found nothing save only the next checkpoint
      assert.deepStrictEqual(saves.map((entries) => entries.length), [2, 2, 2, 1])
      const stored = new Map(saves.slice(0, 3).flat())
      const reads = node.requests.length
      const resumed = yield* adapter.scan(filter, from, to, { saved: stored, save: () => Effect.void })
      assert.deepStrictEqual(resumed, whole)
      assert.strictEqual(distinctSince(node, "sui_getCheckpoint", reads), to - (from + 24) + 1)
      // entries of another filter or range are not taken up
      const afresh = node.requests.length
      assert.deepStrictEqual(yield* adapter.scan(filter, from + 1, to, { saved: stored, save: () => Effect.void }), whole.filter((item) => item.block >= from + 1))
      assert.strictEqual(distinctSince(node, "sui_getCheckpoint", afresh), to - from)
      const other = { accounts: [bob], contracts: [] }
      const otherFresh = yield* adapter.scan(other, from, to)
      assert.deepStrictEqual(yield* adapter.scan(other, from, to, { saved: stored, save: () => Effect.void }), otherFresh)
    }).pipe(Effect.scoped))
})

describe("watched objects beside system transactions, and refusals", () => {
  it.live("a checkpoint's system transaction (no programmable inputs) and a transaction's address argument do not stop a scan of watched objects", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const first = node.addCheckpoint([
        { sender: `0x${"0".repeat(64)}`, changes: [], system: true, objects: [{ objectId: pool, change: "mutated" }] },
        { sender: alice, changes: [], reads: [pool] }
      ])
      const found = yield* SuiAdapter.make(yield* SuiStandIn.client(node.url)).scan({ accounts: [], contracts: [], objects: [pool] }, first, first)
      assert.sameMembers(found.map((item) => item.event), ["mutated", "read"])
    }).pipe(Effect.scoped))

  it.live("a query refused for another reason than InputObject fails the scan; it is not read checkpoint by checkpoint instead", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const numbers: Array<number> = []
      // one transaction in the range: a checkpoint-by-checkpoint read of it would fetch its block
      for (let index = 0; index < 80; index++) numbers.push(node.addCheckpoint(index === 40 ? [{ sender: alice, changes: [] }] : []))
      node.refuse("suix_queryTransactionBlocks", { code: -32000, message: "FromAddress filter is not supported by this endpoint" })
      const exit = yield* Effect.exit(SuiAdapter.make(yield* SuiStandIn.client(node.url)).scan({ accounts: [alice], contracts: [], objects: [pool] }, numbers[0]!, numbers[79]!))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(count(node, "sui_multiGetTransactionBlocks"), 0)
    }).pipe(Effect.scoped))

  it.live("a node's internal error on a transaction's status is a failure, not Pending", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      node.refuse("sui_getTransactionBlock", { code: -32603, message: "Internal error" })
      const exit = yield* Effect.exit(SuiAdapter.make(yield* SuiStandIn.client(node.url)).transactionStatus("3f7gXBZ2VpyKkaKo5Q5sGbAi7YjUpMqXyHnDd3MXwnio"))
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.scoped))
})
