/**
 * A watcher catching up over many ranges submits the items of the ranges it
 * has recorded while it goes on scanning (the background submission pass),
 * not only at the end of the tick — a range recorded after a pass ended
 * starts a new one, and so does one after a pass whose submission failed,
 * which logs a warning naming the watcher —, and reads the unconfirmed tip above the
 * depth only (not every block it is behind); and a provider answering an unconfirmed
 * block whose parent hash is not the block before it is counted as a
 * reorganization, though no block it saw before changed.
 *
 * On the real dev chain, through the stepping adapter (`steppingAdapter.ts`):
 * it holds the scan of a later range until an item of the first is processed
 * (bounded: it fails saying what was processed), and lies about one parent
 * hash; the watchers' first submission is sent to a kind no one registered,
 * so that the supervisor refuses it.
 */
import { Tasks } from "@chainjobs/tasks"
import { assert, layer } from "@effect/vitest"
import { type Context, Effect } from "effect"
import type { SqlClient } from "effect/sql"
import { chainFailed } from "../src/WatchError.ts"
import type * as Watchers from "../src/Watchers.ts"
import { address, DevChain, node, processedCounts, Record, sharedRuntime, warningLog } from "./fixtures.ts"
import { steppingWatchers } from "./steppingAdapter.ts"

/** Waits (at most 20 s) until `check` holds; past that, fails with the message `missing` makes — a scan held by it fails the tick. */
const within = <E, R>(check: Effect.Effect<boolean, E, R>, missing: Effect.Effect<string, E, R>) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 20_000
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.fail(chainFailed("dev")({ message: yield* missing }))
      yield* Effect.sleep("25 millis")
    }
  })

/**
 * Waits (at most 20 s) until the test processor has run the watcher's item `id`; past that, fails saying what was
 * processed — a scan held by it fails the tick.
 */
const processedWithin = (watcher: string, id: string, context: Context.Context<SqlClient.SqlClient>) =>
  within(
    Effect.map(processedCounts(watcher), (counts) => counts.has(id)),
    Effect.map(processedCounts(watcher), (counts) =>
      `${id} not processed while the catch-up scanned on (processed: ${JSON.stringify(Array.from(counts.keys()))})`)
  ).pipe(Effect.provideContext(context))

/**
 * Adds the paused watcher `name` of dev account `watched` (confirmations 0) and sends it two transfers from dev account
 * `from`, two blocks apart, then mines two more blocks: with ranges of 2 blocks from `start`, the first range holds the
 * first transfer, the second range the second, the third (one block) none. Answers `start` and both items' ids.
 */
const twoRangesApart = (watchers: Watchers.Watchers["Service"], name: string, watched: number, from: number) =>
  Effect.gen(function*() {
    const act = node((yield* DevChain.DevChain).url)
    const start = (yield* act.head) + 1
    yield* watchers.add({ name, chain: "dev", processor: Record.name, accounts: [address(watched)], confirmations: 0, startBlock: start, paused: true })
    const first = `dev:${yield* act.sendRaw(yield* act.sign(from, address(watched), 1n))}`
    yield* act.mine(1)
    const second = `dev:${yield* act.sendRaw(yield* act.sign(from, address(watched), 1n))}`
    yield* act.mine(2)
    return { first, second, start }
  })

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("Watchers: a catch-up over many ranges", (it) => {
  it.effect("the items of the ranges recorded are submitted and processed while the catch-up goes on scanning", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const context = yield* Effect.context<SqlClient.SqlClient>()
      const { calls, fault, watchers } = yield* steppingWatchers({ maxRange: 2 })
      const watched = address(3)
      const start = (yield* act.head) + 1
      yield* watchers.add({ name: "catching", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, startBlock: start, paused: true })
      const first = `dev:${yield* act.sendRaw(yield* act.sign(4, watched, 1n))}`
      yield* act.mine(3)
      const last = `dev:${yield* act.sendRaw(yield* act.sign(4, watched, 1n))}`
      // the second range waits (at most 20 s) until the first range's item is processed: the pass is started by
      // the range that recorded an item (the second range records none, the third is never reached before)
      fault.beforeScan = (from) => from < start + 2 ? Effect.void : processedWithin("catching", first, context)
      yield* watchers.poll("catching")
      fault.beforeScan = undefined
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to]), [[start, start + 1], [start + 2, start + 3], [start + 4, start + 4]])
      const rows = yield* watchers.items("catching")
      assert.deepStrictEqual(rows.map((row) => row.id), [first, last])
      assert.isTrue(rows.every((row) => row.taskId !== null), "an item left unsubmitted at the end of the tick")
      yield* watchers.remove("catching")
    }).pipe(Effect.scoped), 60_000)

  it.effect("a catch-up reads the unconfirmed tip above the depth only, not the blocks it is about to scan", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const { blockReads, watchers } = yield* steppingWatchers({ maxRange: 3 })
      const start = (yield* act.head) + 1
      yield* watchers.add({ name: "behind", chain: "dev", processor: Record.name, accounts: [address(6)], confirmations: 2, startBlock: start, paused: true })
      // one block at a time: blocks Hardhat mined many at once answered a parent hash of zeros in this test
      for (let block = 0; block < 8; block++) yield* act.mine(1)
      const head = yield* act.head
      yield* watchers.poll("behind")
      // the tip (the two blocks above the depth) first, then each scanned range's ends
      assert.deepStrictEqual(blockReads, [[head - 1, head], [start, start + 2], [start + 3, start + 5]])
      assert.strictEqual((yield* watchers.lag("behind")).confirmed, head - 2)
      yield* watchers.remove("behind")
    }).pipe(Effect.scoped), 60_000)

  it.effect("an unconfirmed block whose parent hash is not the block before it counts as a reorganization", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const { fault, watchers } = yield* steppingWatchers()
      yield* watchers.add({ name: "lied-to", chain: "dev", processor: Record.name, accounts: [address(5)], confirmations: 3, paused: true })
      yield* act.mine(4)
      const head = yield* act.head
      // the tip is the three blocks above the depth: the middle one's parent is answered wrong, once
      fault.unlinkedAt = head - 1
      yield* watchers.poll("lied-to")
      assert.strictEqual(fault.unlinkedAt, undefined, "the tip was not read")
      assert.strictEqual((yield* watchers.lag("lied-to")).reorgs, 1)
      // answered right again, the same blocks are no reorganization
      yield* watchers.poll("lied-to")
      assert.strictEqual((yield* watchers.lag("lied-to")).reorgs, 1)
      yield* watchers.remove("lied-to")
    }).pipe(Effect.scoped), 60_000)

  it.effect("a pass started after the last one ended: a later range's items are submitted while the catch-up goes on too", () =>
    Effect.gen(function*() {
      const context = yield* Effect.context<SqlClient.SqlClient>()
      const { calls, fault, watchers } = yield* steppingWatchers({ maxRange: 2 })
      const { first, second, start } = yield* twoRangesApart(watchers, "passes", 7, 8)
      // the second range waits for the first range's item, so the pass that submitted it has ended when the
      // second range records its item; the third range waits for that item: a new pass must submit it
      fault.beforeScan = (from) =>
        from === start + 2 ? processedWithin("passes", first, context)
        : from === start + 4 ? processedWithin("passes", second, context)
        : Effect.void
      yield* watchers.poll("passes")
      fault.beforeScan = undefined
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to]), [[start, start + 1], [start + 2, start + 3], [start + 4, start + 4]])
      assert.deepStrictEqual((yield* watchers.items("passes")).map((row) => row.id), [first, second])
      yield* watchers.remove("passes")
    }).pipe(Effect.scoped), 60_000)

  it.effect("a pass whose submission fails logs a warning naming the watcher, and a later range starts a new pass that submits", () =>
    Effect.gen(function*() {
      const context = yield* Effect.context<SqlClient.SqlClient>()
      const { layer: warningLayer, warnings } = warningLog()
      // the watchers' first submission names a kind no one registered (the supervisor refuses it); the later ones are as asked
      const tasks = yield* Tasks.Tasks
      let refusals = 1
      const refusingOnce = Tasks.Tasks.of({
        ...tasks,
        submitEncoded: (kind, payload, options) => tasks.submitEncoded(refusals-- > 0 ? "test.unregistered" : kind, payload, options)
      })
      const { calls, fault, watchers } = yield* steppingWatchers({ maxRange: 2 }).pipe(
        Effect.provideService(Tasks.Tasks, refusingOnce),
        Effect.provide(warningLayer)
      )
      const { first, second, start } = yield* twoRangesApart(watchers, "refused", 11, 12)
      // the second range waits for the first pass's warning (its submission refused, the pass has ended), the third
      // for the second range's item: the pass its range starts must submit it
      fault.beforeScan = (from) =>
        from === start + 2 ? within(Effect.sync(() => warnings.length > 0), Effect.succeed("no warning of the refused pass"))
        : from === start + 4 ? processedWithin("refused", second, context)
        : Effect.void
      yield* watchers.poll("refused")
      fault.beforeScan = undefined
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to]), [[start, start + 1], [start + 2, start + 3], [start + 4, start + 4]])
      assert.deepStrictEqual(warnings, [
        // the refusal names the watcher itself: the warning names it once
        'chainjobs watch: watcher "refused": submitting to "test.record": no task kind "test.unregistered" is registered'
      ])
      assert.deepStrictEqual((yield* watchers.items("refused")).map((row) => row.id), [first, second])
      yield* watchers.remove("refused")
    }).pipe(Effect.scoped), 60_000)
})
