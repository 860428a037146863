/**
 * The query catch-up's paging and saved state, on the stand-in node: where
 * each source stops (the first page reaching below the range, by a
 * transaction's checkpoint or an event's time), the state a scan saves and
 * resumes from (keys, the checkpoint time, page numbers that never clash),
 * sources that must not share state, transactions no checkpoint holds yet,
 * pages that claim more without a cursor, and when the query path is taken.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as SuiAdapter from "../src/SuiAdapter.ts"
import * as SuiStandIn from "./SuiStandIn.ts"

/** `0x` and 64 hex digits of a short address. */
const long = (hex: string) => `0x${hex.padStart(64, "0")}`
const sui = "0x2::sui::SUI"
const [alice, bob, carol, dave, erin] = ["a1", "b0b", "ca401", "da", "e1"].map(long) as [string, string, string, string, string]
const pool = long("9001")
const eventType = `${SuiStandIn.spec.sui_getEvents[0].type}`
const eventPackage = eventType.split("::")[0]!
const otherType = `${eventPackage}::test::OtherEvent`
const watchEvents = (...events: ReadonlyArray<string>) => ({ address: eventPackage, events: [...events] })
const send = (sender: string, to: string): SuiStandIn.Transaction => ({
  sender,
  changes: [{ owner: sender, coinType: sui, amount: -1n }, { owner: to, coinType: sui, amount: 1n }]
})
const emit = (sender: string, type = eventType): SuiStandIn.Transaction => ({ sender, changes: [], events: [{ type, fields: { sender } }] })

/** The time limit of a test scanning a range of dozens of checkpoints in small pages, several times (see SuiAdapter.test.ts' `scanLimit`). */
const scanLimit = 60_000

/** The distinct requests of a method since request `start` whose parameters include `marker` (one retried on a loaded machine counts once). */
const pagesOf = (node: SuiStandIn.StandIn, method: string, marker: string, start = 0) =>
  new Set(node.requests.slice(start).filter((request) => request.method === method).map((request) => JSON.stringify(request.params)).filter((params) => params.includes(marker))).size

type Entries = ReadonlyArray<readonly [string, unknown]>
/** A scan's progress recording every save (as JSON, as a store keeps it). */
const recorder = (saved: ReadonlyMap<string, unknown> = new Map()) => {
  const saves: Array<Entries> = []
  return { saves, progress: { saved, save: (entries: Entries) => Effect.sync(() => void saves.push(JSON.parse(JSON.stringify(entries)))) } }
}

describe("where each source stops", () => {
  it.live("a source stops at its first page reaching below the range — by the last transaction's checkpoint, or the oldest event's time — and a resumed scan numbers its pages after the saved ones, saving no time again", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 3 })
      const numbers: Array<number> = []
      for (let index = 0; index < 100; index++) numbers.push(node.addCheckpoint([send(alice, bob), emit(carol)]))
      const suiClient = yield* SuiStandIn.client(node.url)
      const adapter = SuiAdapter.make(suiClient)
      // 68 checkpoints: pages of three from the newest, the 23rd holding checkpoints 33, 32 and 31 (below the range)
      const [from, to] = [numbers[32]!, numbers[99]!]
      const filter = { accounts: [alice], contracts: [watchEvents("test::TestEvent")] }
      const whole = recorder()
      const found = yield* adapter.scan(filter, from, to, whole.progress)
      assert.strictEqual(found.length, 68 * 2)
      assert.strictEqual(pagesOf(node, "suix_queryTransactionBlocks", "FromAddress"), 23)
      assert.strictEqual(pagesOf(node, "suix_queryTransactionBlocks", "ToAddress"), 1)
      assert.strictEqual(pagesOf(node, "suix_queryEvents", "MoveEventType"), 23)
      // the keys a store keeps: 16 hex digits of the scan's digest, then the entry
      const keys = whole.saves.flat().map(([key]) => key)
      assert.isTrue(keys.every((key) => /^[0-9a-f]{16}\/(time|query\/|page\/)/.test(key)), keys.find((key) => !/^[0-9a-f]{16}\//.test(key)))
      // first the time of checkpoint `from`, read once
      const time = Number((yield* suiClient.use((rpc, signal) => rpc.getCheckpoint({ id: String(from), signal }))).timestampMs)
      assert.strictEqual(whole.saves[0]!.length, 1)
      assert.isTrue(whole.saves[0]![0]![0].endsWith("/time"))
      assert.strictEqual(whole.saves[0]![0]![1], time)
      assert.isFalse(whole.saves.slice(1).flat().some(([key]) => key.endsWith("/time")))

      // resumed after the time and two pages: the sources go on, every page saved under a key not saved before
      const stored = new Map(whole.saves.slice(0, 3).flat())
      const resumed = recorder(stored)
      assert.deepStrictEqual(yield* adapter.scan(filter, from, to, resumed.progress), found)
      const written = resumed.saves.flat().map(([key]) => key)
      assert.isFalse(written.some((key) => key.endsWith("/time")))
      const pageKeys = written.filter((key) => key.includes("/page/"))
      assert.strictEqual(new Set(pageKeys).size, pageKeys.length)
      assert.deepStrictEqual(pageKeys.filter((key) => stored.has(key)), [])
      // the store after both: the scan again asks nothing and saves nothing
      const union = new Map([...stored, ...resumed.saves.flat()])
      const again = recorder(union)
      const before = node.requests.length
      assert.deepStrictEqual(yield* adapter.scan(filter, from, to, again.progress), found)
      assert.deepStrictEqual(again.saves, [])
      assert.strictEqual(pagesOf(node, "suix_queryTransactionBlocks", "", before) + pagesOf(node, "suix_queryEvents", "", before), 0)
      // a state saved for other sources, as many, is not taken up
      const others = { accounts: [bob], contracts: [watchEvents("test::TestEvent")] }
      assert.deepStrictEqual(yield* adapter.scan(others, from, to, recorder(stored).progress), yield* adapter.scan(others, from, to))
    }).pipe(Effect.scoped), scanLimit)

  it.live("a transaction of a watched address that also emits a watched event is read once, by the address's query, not again for its event", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const numbers: Array<number> = []
      for (let index = 0; index < 80; index++) {
        // alice sends in every checkpoint of the range (many pages newest first); her oldest one in it also emits the watched event
        numbers.push(node.addCheckpoint(index === 10 ? [{ ...send(alice, bob), events: [{ type: eventType, fields: {} }] }] : index === 5 ? [emit(carol)] : index > 10 ? [send(alice, bob)] : []))
      }
      const found = yield* SuiAdapter.make(yield* SuiStandIn.client(node.url)).scan(
        { accounts: [alice], contracts: [watchEvents("test::TestEvent")] },
        numbers[10]!,
        numbers[79]!
      )
      assert.strictEqual(found.length, 70 + 1)
      assert.deepStrictEqual(node.multiGetDigests, [])
    }).pipe(Effect.scoped), scanLimit)
})

describe("events whose time is null", () => {
  it.live("are placed by their transactions, as events without a time are: none dropped, no page taken for older than the range", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2, eventTimes: "null" })
      const numbers: Array<number> = []
      for (let index = 0; index < 100; index++) numbers.push(node.addCheckpoint(index % 10 === 3 ? [emit(alice)] : []))
      const found = yield* SuiAdapter.make(yield* SuiStandIn.client(node.url)).scan({ accounts: [], contracts: [watchEvents("test::TestEvent")] }, numbers[5]!, numbers[99]!)
      assert.deepStrictEqual(found.map((item) => item.block), [13, 23, 33, 43, 53, 63, 73, 83, 93].map((index) => numbers[index]!))
      assert.strictEqual(pagesOf(node, "suix_queryEvents", ""), 5)
    }).pipe(Effect.scoped), scanLimit)
})

describe("sources of one kind", () => {
  it.live("two addresses that only receive, and two event types, are each their own source, with a cursor of its own: all found, as reading every checkpoint finds them", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const plan = new Map<number, SuiStandIn.Transaction>([
        [10, send(carol, dave)],
        [20, send(carol, erin)],
        [30, emit(carol)],
        [40, emit(carol, otherType)],
        [50, send(carol, dave)],
        [60, send(carol, erin)],
        [70, emit(carol)],
        [75, emit(carol, otherType)]
      ])
      const numbers: Array<number> = []
      for (let index = 0; index < 80; index++) numbers.push(node.addCheckpoint([plan.get(index) ?? send(bob, carol)]))
      const suiClient = yield* SuiStandIn.client(node.url)
      const filter = { accounts: [dave, erin], contracts: [watchEvents("test::TestEvent", "test::OtherEvent")] }
      const byCheckpoint = yield* SuiAdapter.make(suiClient, { catchUpAfter: Number.MAX_SAFE_INTEGER }).scan(filter, numbers[0]!, numbers[79]!)
      assert.strictEqual(byCheckpoint.length, 8)
      const { progress, saves } = recorder()
      const byQuery = yield* SuiAdapter.make(suiClient).scan(filter, numbers[0]!, numbers[79]!, progress)
      assert.isAbove(pagesOf(node, "suix_queryEvents", ""), 0)
      assert.deepStrictEqual(byQuery, byCheckpoint)
      // each source's cursor saved under a key of its own: two per address, one per event type
      assert.strictEqual(new Set(saves.flat().map(([key]) => key).filter((key) => key.includes("/query/"))).size, 2 * 2 + 2)
    }).pipe(Effect.scoped), scanLimit)
})

describe("transactions no checkpoint holds yet", () => {
  it.live("the newest of a query, their checkpoint null or absent, are no items and do not end it, in a range from genesis too", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ maxPage: 2 })
      const numbers: Array<number> = []
      for (let index = 0; index < 80; index++) numbers.push(node.addCheckpoint(index % 10 === 0 ? [send(alice, bob)] : []))
      // newest first, the first page holds both: the one with a null checkpoint last
      node.addPending([send(alice, bob)], "null")
      node.addPending([send(alice, bob)], "absent")
      const adapter = SuiAdapter.make(yield* SuiStandIn.client(node.url))
      const inRange = yield* adapter.scan({ accounts: [alice], contracts: [] }, numbers[10]!, numbers[79]!)
      assert.deepStrictEqual(inRange.map((item) => item.block), [10, 20, 30, 40, 50, 60, 70].map((index) => numbers[index]!))
      const sinceGenesis = yield* adapter.scan({ accounts: [alice], contracts: [] }, 0, numbers[79]!)
      assert.deepStrictEqual(sinceGenesis.map((item) => item.block), [0, 10, 20, 30, 40, 50, 60, 70].map((index) => numbers[index]!))
    }).pipe(Effect.scoped), scanLimit)
})

describe("pages claiming more without a cursor", () => {
  for (const cursor of ["null", "absent"] as const) {
    it.live(`a page saying it has a next one, its cursor ${cursor}, ends its source: the scan ends, each source asked once`, () =>
      Effect.gen(function*() {
        const node = yield* SuiStandIn.make({ maxPage: 2, endlessPages: cursor })
        const numbers: Array<number> = []
        for (let index = 0; index < 80; index++) numbers.push(node.addCheckpoint([send(alice, bob)]))
        // a scan asking the first page again and again meets an outage and fails
        node.outageAfter(40)
        const found = yield* SuiAdapter.make(yield* SuiStandIn.client(node.url)).scan({ accounts: [alice], contracts: [] }, numbers[0]!, numbers[79]!)
        assert.strictEqual(found.length, 2)
        assert.strictEqual(pagesOf(node, "suix_queryTransactionBlocks", "FromAddress"), 1)
        assert.strictEqual(pagesOf(node, "suix_queryTransactionBlocks", "ToAddress"), 1)
      }).pipe(Effect.scoped), scanLimit)
  }
})

describe("when the query path is taken", () => {
  it.live("a filter without objects counts none (one address is within querySources 1), asks for no object changes and saves no checkpoint time", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const numbers: Array<number> = []
      for (let index = 0; index < 80; index++) numbers.push(node.addCheckpoint(index % 10 === 0 ? [send(alice, bob)] : []))
      const { progress, saves } = recorder()
      const found = yield* SuiAdapter.make(yield* SuiStandIn.client(node.url), { querySources: 1 }).scan({ accounts: [alice], contracts: [] }, numbers[0]!, numbers[79]!, progress)
      assert.strictEqual(found.length, 8)
      const queries = node.requests.filter((request) => request.method === "suix_queryTransactionBlocks")
      assert.isAbove(queries.length, 0)
      assert.isTrue(queries.every((request) => JSON.stringify(request.params).includes(`"showObjectChanges":false`)))
      assert.isFalse(saves.flat().some(([key]) => key.endsWith("/time")))
    }).pipe(Effect.scoped), scanLimit)

  it.live("after an endpoint refused InputObject, ranges without watched objects are still caught up by query", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make({ refuseInputObject: true })
      const numbers: Array<number> = []
      for (let index = 0; index < 80; index++) numbers.push(node.addCheckpoint(index % 10 === 0 ? [{ ...send(alice, bob), reads: [pool] }] : []))
      const adapter = SuiAdapter.make(yield* SuiStandIn.client(node.url))
      assert.strictEqual((yield* adapter.scan({ accounts: [], contracts: [], objects: [pool] }, numbers[0]!, numbers[79]!)).length, 8)
      const before = node.requests.length
      assert.strictEqual((yield* adapter.scan({ accounts: [alice], contracts: [] }, numbers[0]!, numbers[79]!)).length, 8)
      assert.isAbove(pagesOf(node, "suix_queryTransactionBlocks", "FromAddress", before), 0)
    }).pipe(Effect.scoped), scanLimit)
})
