/**
 * The watchers driven tick by tick (`poll`), with blocks mined on demand and
 * processing awaited through the tasks' records: no loop runs (every watcher
 * is paused) and nothing waits on time, so each test is deterministic and
 * fast enough to run for every mutant of `Watchers.ts`. Scans are limited to
 * ranges of 2 blocks, so a catch-up crosses many range boundaries.
 *
 * Covered: exactly-once against an independent scan across ranges and
 * repeated polls, the lag cursors and gauges, a reorganization among
 * unconfirmed blocks (counted once; the dropped item never recorded, a
 * re-included one once), a deeper one stopping the watcher, an account-set
 * change inside a range, and items whose task ended without recording their
 * outcome (completed, failed, interrupted, deleted).
 */
import { AddressScan, Chains } from "@chainjobs/chain"
import { DevSeed } from "@chainjobs/devchain"
import { Task, Tasks } from "@chainjobs/tasks"
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Metric } from "effect"
import * as Watchers from "../src/Watchers.ts"
import * as WatchItem from "../src/WatchItem.ts"
import * as WatchProcessor from "../src/WatchProcessor.ts"
import { address, DevChain, node, processedCounts, reasonOf, Record, Refused, sharedRuntime } from "./fixtures.ts"

/** Processor kinds whose tasks end without recording their item's outcome (as a task that timed out or was lost would). */
const Unrecorded = WatchProcessor.define("test.unrecorded", { success: WatchItem.WatchItem })
const UnrecordedFailure = WatchProcessor.define("test.unrecorded-failure", { error: Refused })
const Hold = WatchProcessor.define("test.hold")
/** A processor whose handler dies (a defect, not a typed failure). */
const Dies = WatchProcessor.define("test.dies")

const unrecorded = Layer.mergeAll(
  Task.implement(Unrecorded, (item) => Effect.succeed(item)),
  Task.implement(UnrecordedFailure, (item) => Effect.fail(new Refused({ item: WatchItem.id(item) }))),
  Task.implement(Hold, () => Effect.never),
  WatchProcessor.implement(Dies, () => Effect.die("the handler broke"))
)

const polled = unrecorded.pipe(Layer.provideMerge(sharedRuntime({ watchers: { maxRange: 2 } })))

/** Waits for the end of every task of the given processor kinds (each is awaited through its record, not by time). */
const drained = (...kinds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const page = yield* tasks.list({ kind: kinds, limit: 1000 })
    for (const task of page.items) yield* tasks.awaitInfo(task.id)
    return page.items.length
  })

/** The ids an independent `AddressScan` finds for the accounts in the blocks given. */
const independent = (accounts: ReadonlyArray<string>, from: number, to: number) =>
  Effect.gen(function*() {
    const client = yield* (yield* Chains.Chains).client("dev")
    const found = yield* AddressScan.scanRange(client, accounts as ReadonlyArray<`0x${string}`>, from, to)
    return found.map((item) => WatchItem.id({ chain: "dev", transaction: item.transactionHash, position: item.logIndex })).sort()
  })

const gauge = (metric: Metric.Gauge<number>, watcher: string) =>
  Effect.map(Metric.value(Metric.withAttributes(metric, { watcher, chain: "dev" })), (state) => state.value)

const failureReason = <A, E extends { readonly reason: { readonly _tag: string }; readonly message: string }>(exit: Exit.Exit<A, E>) => reasonOf(exit)[0]

layer(polled, { excludeTestServices: true, timeout: 120_000 })("Watchers, tick by tick", (it) => {
  it.effect("seeded and live activity across 2-block ranges and repeated polls: each item recorded and processed once, the cursors at depth", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const seeded = yield* DevSeed.seed({ rounds: 10, participants: 4, maxGap: 2 })
      const watched = seeded.participants.slice(0, 2)
      yield* watchers.add({ name: "ranges", chain: "dev", processor: Record.name, accounts: watched, confirmations: 2, startBlock: seeded.fromBlock, paused: true })
      yield* watchers.add({
        name: "events",
        chain: "dev",
        processor: Record.name,
        contracts: [{ address: seeded.token, events: ["Transfer(address indexed from, address indexed to, uint256 value)"] }],
        confirmations: 2,
        startBlock: seeded.fromBlock,
        paused: true
      })
      const before = yield* watchers.lag("ranges")
      assert.deepStrictEqual(before, { watcher: "ranges", head: null, confirmed: seeded.fromBlock - 1, processed: seeded.fromBlock - 1, reorgs: 0, lastError: null, observedAt: null })

      // live activity between polls: each poll records what reached depth since the last, nothing twice
      for (let round = 0; round < 4; round++) {
        yield* watchers.poll("ranges")
        yield* watchers.poll("events")
        yield* act.send(round % 4, watched[round % 2] as `0x${string}`, BigInt(round + 1))
        yield* act.send(5, address(6), 1n)
      }
      yield* act.mine(2)
      const head = yield* act.head
      yield* watchers.poll("ranges")
      yield* watchers.poll("events")
      yield* drained(Record.name)

      const last = head - 2
      const expected = yield* independent(watched, seeded.fromBlock, last)
      assert.isAbove(expected.length, 10)
      const counts = yield* processedCounts("ranges")
      assert.deepStrictEqual(Array.from(counts.keys()).sort(), expected)
      assert.deepStrictEqual(Array.from(counts.values()).filter((count) => count !== 1), [], "an item processed more than once")
      const rows = yield* watchers.items("ranges")
      assert.deepStrictEqual(rows.map((row) => row.id).sort(), expected)
      assert.deepStrictEqual(rows.filter((row) => row.status !== "processed").map((row) => [row.id, row.status]), [])
      assert.isTrue(rows.every((row) => row.taskId !== null && row.error === null && row.finishedAt !== null))
      // chain order
      const order = rows.map((row) => [row.item.block, row.item.position ?? -1] as const)
      assert.deepStrictEqual(order, [...order].sort((a, b) => a[0] - b[0] || a[1] - b[1]))

      const tokenTransfers = seeded.activity.filter((item) => item.kind === "erc20")
        .map((item) => WatchItem.id({ chain: "dev", transaction: item.transactionHash, position: item.logIndex })).sort()
      const tokenCounts = yield* processedCounts("events")
      assert.deepStrictEqual(Array.from(tokenCounts.keys()).sort(), tokenTransfers)
      assert.deepStrictEqual(Array.from(tokenCounts.values()).filter((count) => count !== 1), [])

      // a poll after the items finished moves the processed cursor to the confirmed one; polling again changes nothing
      yield* watchers.poll("ranges")
      yield* watchers.poll("ranges")
      const lag = yield* watchers.lag("ranges")
      assert.deepStrictEqual({ ...lag, observedAt: null }, { watcher: "ranges", head, confirmed: last, processed: last, reorgs: 0, lastError: null, observedAt: null })
      assert.isNotNull(lag.observedAt, "the polls wrote what they saw")
      assert.strictEqual((yield* watchers.get("ranges")).confirmedBlock, last)
      assert.deepStrictEqual(Array.from((yield* processedCounts("ranges")).values()).filter((count) => count !== 1), [])
      assert.strictEqual(yield* drained(Record.name), expected.length + tokenTransfers.length)
      assert.deepStrictEqual(
        [yield* gauge(Watchers.headGauge, "ranges"), yield* gauge(Watchers.confirmedGauge, "ranges"), yield* gauge(Watchers.processedGauge, "ranges")],
        [head, last, last]
      )
    }), 90_000)

  it.effect("the processed cursor stays before the first item not finished; items are submitted at depth and not before", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const tasks = yield* Tasks.Tasks
      const watched = address(17)
      yield* watchers.add({ name: "held", chain: "dev", processor: Hold.name, accounts: [watched], confirmations: 1, paused: true })
      const hash = yield* act.sendRaw(yield* act.sign(16, watched, 1n))
      const block = yield* act.head
      // at the head, not at depth: not recorded
      yield* watchers.poll("held")
      assert.deepStrictEqual(yield* watchers.items("held"), [])
      yield* act.mine(2)
      yield* watchers.poll("held")
      const [row] = yield* watchers.items("held")
      assert.deepStrictEqual([row!.id, row!.status], [`dev:${hash}`, "submitted"])
      const lag = yield* watchers.lag("held")
      assert.strictEqual(lag.confirmed, block + 1)
      assert.strictEqual(lag.processed, block - 1, "the processed cursor passed an item still running")
      // its task interrupted: the item fails with the task's end as its reason, and the cursor moves on
      yield* tasks.interrupt(row!.taskId!)
      yield* watchers.poll("held")
      const [settled] = yield* watchers.items("held")
      assert.strictEqual(settled!.status, "failed")
      assert.match(settled!.error ?? "", /interrupt/)
      assert.strictEqual((yield* watchers.lag("held")).processed, block + 1)
    }), 60_000)

  it.effect("items whose task ended without recording: completed is processed with the task's result, failed keeps its message, a deleted task's item fails", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const tasks = yield* Tasks.Tasks
      const [a, b, c] = [address(18), address(19), address(13)]
      yield* watchers.add({ name: "unrecorded", chain: "dev", processor: Unrecorded.name, accounts: [a], confirmations: 0, paused: true })
      yield* watchers.add({ name: "unrecorded-failure", chain: "dev", processor: UnrecordedFailure.name, accounts: [b], confirmations: 0, paused: true })
      yield* watchers.add({ name: "deleted", chain: "dev", processor: Hold.name, accounts: [c], confirmations: 0, paused: true })
      const toA = yield* act.sendRaw(yield* act.sign(12, a, 1n))
      const toB = yield* act.sendRaw(yield* act.sign(12, b, 1n))
      const toC = yield* act.sendRaw(yield* act.sign(12, c, 1n))
      for (const name of ["unrecorded", "unrecorded-failure", "deleted"]) yield* watchers.poll(name)
      yield* drained(Unrecorded.name, UnrecordedFailure.name)
      const [held] = yield* watchers.items("deleted")
      yield* tasks.delete(held!.taskId!)
      for (const name of ["unrecorded", "unrecorded-failure", "deleted"]) yield* watchers.poll(name)

      const [done] = yield* watchers.items("unrecorded")
      assert.deepStrictEqual([done!.id, done!.status, done!.error], [`dev:${toA}`, "processed", null])
      assert.strictEqual((done!.outcome as { transaction: string }).transaction, toA)
      const [failed] = yield* watchers.items("unrecorded-failure")
      assert.deepStrictEqual([failed!.id, failed!.status, failed!.outcome], [`dev:${toB}`, "failed", null])
      assert.include(failed!.error ?? "", `refused dev:${toB}`)
      const [gone] = yield* watchers.items("deleted")
      assert.deepStrictEqual([gone!.id, gone!.status, gone!.error], [`dev:${toC}`, "failed", "its task record is gone"])
      // settled once: a later poll changes nothing and submits nothing again
      yield* watchers.poll("unrecorded")
      assert.strictEqual((yield* tasks.list({ kind: [Unrecorded.name] })).items.length, 1)
    }), 60_000)

  it.effect("a processor run again for an item already processed returns the stored result without running its handler; a handler's defect is the item's failure", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const tasks = yield* Tasks.Tasks
      const [watched, broken] = [address(16), address(17)]
      yield* watchers.add({ name: "again", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, paused: true })
      yield* watchers.add({ name: "dies", chain: "dev", processor: Dies.name, accounts: [broken], confirmations: 0, paused: true })
      const hash = yield* act.sendRaw(yield* act.sign(18, watched, 1n))
      const toBroken = yield* act.sendRaw(yield* act.sign(18, broken, 1n))
      yield* watchers.poll("again")
      yield* watchers.poll("dies")
      yield* drained(Record.name, Dies.name)
      const [row] = yield* watchers.items("again")
      assert.deepStrictEqual([row!.id, row!.status], [`dev:${hash}`, "processed"])
      // as a task resumed after a crash would: the item is processed, so the stored result comes back, the handler does not run
      const again = yield* tasks.run(Record, row!.item)
      assert.deepStrictEqual(again, row!.item)
      assert.deepStrictEqual(Array.from((yield* processedCounts("again")).entries()), [[`dev:${hash}`, 1]])
      const [died] = yield* watchers.items("dies")
      assert.deepStrictEqual([died!.id, died!.status, died!.error], [`dev:${toBroken}`, "failed", "defect or interruption"])
    }), 60_000)

  it.effect("a reorganization among unconfirmed blocks is counted once; the dropped item is never recorded, the re-included one once", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const watched = address(11)
      yield* watchers.add({ name: "reorg", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 3, paused: true })
      const base = yield* act.snapshot
      const dropped = yield* act.sign(9, watched, 1_000n)
      const reincluded = yield* act.sign(10, watched, 2_000n)
      const droppedHash = yield* act.sendRaw(dropped)
      const reincludedHash = yield* act.sendRaw(reincluded)
      yield* watchers.poll("reorg")
      assert.deepStrictEqual(yield* watchers.items("reorg"), [])
      yield* watchers.poll("reorg")
      assert.strictEqual((yield* watchers.lag("reorg")).reorgs, 0, "a reorganization counted where the chain did not change")
      yield* act.revert(base)
      yield* act.mine(1)
      yield* act.sendRaw(reincluded)
      const replacementHash = yield* act.sendRaw(yield* act.sign(9, watched, 3_000n))
      yield* watchers.poll("reorg")
      assert.strictEqual((yield* watchers.lag("reorg")).reorgs, 1)
      yield* act.mine(3)
      yield* watchers.poll("reorg")
      yield* drained(Record.name)
      const counts = yield* processedCounts("reorg")
      assert.deepStrictEqual(Array.from(counts.entries()).sort(), [[`dev:${reincludedHash}`, 1], [`dev:${replacementHash}`, 1]].sort())
      assert.isFalse(counts.has(`dev:${droppedHash}`))
      assert.strictEqual((yield* watchers.lag("reorg")).reorgs, 1, "blocks that only grew counted as a reorganization")
    }), 60_000)

  it.effect("an account-set change inside a scanned range takes effect at its block", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const [first, second] = [address(14), address(15)]
      yield* watchers.add({ name: "switch", chain: "dev", processor: Record.name, accounts: [first], confirmations: 0, paused: true })
      const at = (yield* act.head) + 3
      assert.strictEqual(yield* watchers.setAccounts("switch", [second], { fromBlock: at }), at)
      const sent: Array<{ readonly hash: string; readonly to: string; readonly block: number }> = []
      for (let i = 0; i < 5; i++) {
        yield* act.setAutomine(false)
        const toFirst = yield* act.sendRaw(yield* act.sign(16, first, 1n))
        const toSecond = yield* act.sendRaw(yield* act.sign(17, second, 1n))
        yield* act.mine(1)
        yield* act.setAutomine(true)
        const block = yield* act.head
        sent.push({ hash: toFirst, to: first, block }, { hash: toSecond, to: second, block })
      }
      yield* watchers.poll("switch")
      yield* drained(Record.name)
      const expected = sent.filter((tx) => tx.block < at ? tx.to === first : tx.to === second).map((tx) => `dev:${tx.hash}`).sort()
      assert.deepStrictEqual(Array.from((yield* processedCounts("switch")).keys()).sort(), expected)
      assert.strictEqual(failureReason(yield* Effect.exit(watchers.setAccounts("switch", [first], { fromBlock: at }))), "Invalid")
    }), 60_000)

  it.effect("a reorganization deeper than the depth stops the watcher with DeepReorg; what it processed stays processed once", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const watched = address(5)
      yield* watchers.add({ name: "deep", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 1, paused: true })
      const base = yield* act.snapshot
      const hash = yield* act.sendRaw(yield* act.sign(6, watched, 1n))
      yield* act.mine(2)
      yield* watchers.poll("deep")
      yield* drained(Record.name)
      const confirmed = (yield* watchers.lag("deep")).confirmed
      yield* act.revert(base)
      yield* act.sendRaw(yield* act.sign(7, address(8), 1n))
      yield* act.mine(4)
      assert.strictEqual(failureReason(yield* Effect.exit(watchers.poll("deep"))), "DeepReorg")
      assert.strictEqual(failureReason(yield* Effect.exit(watchers.poll("deep"))), "DeepReorg")
      const lag = yield* watchers.lag("deep")
      assert.strictEqual(lag.confirmed, confirmed)
      assert.match(lag.lastError ?? "", /deeper than the confirmation depth/)
      assert.deepStrictEqual(Array.from((yield* processedCounts("deep")).entries()), [[`dev:${hash}`, 1]])
    }), 60_000)
})
