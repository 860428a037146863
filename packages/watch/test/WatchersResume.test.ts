/**
 * A watcher's scan that saves its progress (as Sui's catch-up does) and is
 * interrupted: the next tick scans the same range again, though the head
 * moved on, each part of it (account sets) from what that part saved, and
 * an interruption of the resumed scan keeps what was saved before it; a
 * saved range beyond the confirmation depth (the head went back) is scanned
 * afresh, and what the earlier scan saved is dropped at its first save, so no
 * item of the blocks that went away is recorded.
 *
 * The chain is the real dev chain; the adapter is the EVM one, wrapped to scan
 * a range block by block, saving each block's items, with a failure injected
 * at a chosen block (fault injection: the wrapper only adds steps and a fault).
 */
import { AddressScan, Chains } from "@chainjobs/chain"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as WatchItem from "../src/WatchItem.ts"
import { address, DevChain, node, reasonOf, Record, sharedRuntime } from "./fixtures.ts"
import { steppingWatchers } from "./steppingAdapter.ts"

/** The ids an independent `AddressScan` finds for the accounts in the blocks given. */
const independent = (accounts: ReadonlyArray<string>, from: number, to: number) =>
  Effect.gen(function*() {
    const client = yield* (yield* Chains.Chains).client("dev")
    const found = yield* AddressScan.scanRange(client, accounts as ReadonlyArray<`0x${string}`>, from, to)
    return found.map((item) => WatchItem.id({ chain: "dev", transaction: item.transactionHash, position: item.logIndex })).sort()
  })

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index)
const keys = (blocks: ReadonlyArray<number>) => blocks.map((block) => `block/${block}`).sort()

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("Watchers: a scan resumed from its saved progress", (it) => {
  it.effect("an interrupted scan's range is scanned again though the head moved on, each part from what it saved; every item recorded once", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const { calls, fault, watchers } = yield* steppingWatchers()
      const [first, second] = [address(3), address(4)]
      const start = (yield* act.head) + 1
      yield* watchers.add({ name: "resumed", chain: "dev", processor: Record.name, accounts: [first], confirmations: 0, startBlock: start, paused: true })
      // the second account joins at the fourth block: the range is scanned in two parts
      assert.strictEqual(yield* watchers.setAccounts("resumed", [first, second], { fromBlock: start + 3 }), start + 3)
      for (let round = 0; round < 6; round++) yield* act.sendRaw(yield* act.sign(5, round % 2 === 0 ? first : second, 1n))
      const to = yield* act.head
      assert.strictEqual(to, start + 5)

      fault.failAt = start + 4
      const [reason, message] = reasonOf(yield* Effect.exit(watchers.poll("resumed")))
      assert.deepStrictEqual([reason, message], ["ChainFailed", `chain dev: injected failure at block ${start + 4}`])
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to, call.saved, call.read]), [
        [start, start + 2, [], range(start, start + 2)],
        [start + 3, to, [], [start + 3]]
      ])
      assert.deepStrictEqual(yield* watchers.items("resumed"), [])
      assert.strictEqual((yield* watchers.get("resumed")).confirmedBlock, start - 1)

      // the head moves on; the range scanned is the saved one, each part resumed from its own saves
      yield* act.sendRaw(yield* act.sign(5, first, 1n))
      calls.length = 0
      yield* watchers.poll("resumed")
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to, call.saved, call.read]), [
        [start, start + 2, keys(range(start, start + 2)), []],
        [start + 3, to, keys([start + 3]), [start + 4, start + 5]],
        [to + 1, to + 1, [], [to + 1]]
      ])
      const expected = [
        ...(yield* independent([first], start, start + 2)),
        ...(yield* independent([first, second], start + 3, to + 1))
      ].sort()
      assert.strictEqual(expected.length, 6)
      const rows = yield* watchers.items("resumed")
      assert.deepStrictEqual(rows.map((row) => row.id).sort(), expected)
      assert.strictEqual((yield* watchers.get("resumed")).confirmedBlock, to + 1)
      // once the cursor moved, nothing saved is handed to a later scan
      yield* act.mine(1)
      calls.length = 0
      yield* watchers.poll("resumed")
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to, call.saved]), [[to + 2, to + 2, []]])
      yield* watchers.remove("resumed")
    }).pipe(Effect.scoped), 60_000)

  it.effect("a scan interrupted twice resumes each time from everything saved before: a resumed scan's saves keep the earlier ones", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const { calls, fault, watchers } = yield* steppingWatchers()
      const [first, second] = [address(9), address(10)]
      const start = (yield* act.head) + 1
      yield* watchers.add({ name: "twice", chain: "dev", processor: Record.name, accounts: [first], confirmations: 0, startBlock: start, paused: true })
      assert.strictEqual(yield* watchers.setAccounts("twice", [first, second], { fromBlock: start + 2 }), start + 2)
      for (let round = 0; round < 5; round++) yield* act.sendRaw(yield* act.sign(11, round % 2 === 0 ? first : second, 1n))
      const to = start + 4
      assert.strictEqual(yield* act.head, to)

      fault.failAt = start + 3
      assert.strictEqual(reasonOf(yield* Effect.exit(watchers.poll("twice")))[0], "ChainFailed")
      // resumed: the first part all saved, the second from its saved block; its first new save, then a failure again
      calls.length = 0
      fault.failAt = start + 4
      assert.strictEqual(reasonOf(yield* Effect.exit(watchers.poll("twice")))[0], "ChainFailed")
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to, call.saved, call.read]), [
        [start, start + 1, keys(range(start, start + 1)), []],
        [start + 2, to, keys([start + 2]), [start + 3]]
      ])
      // the third scan is handed every block saved by the two before
      calls.length = 0
      yield* watchers.poll("twice")
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to, call.saved, call.read]), [
        [start, start + 1, keys(range(start, start + 1)), []],
        [start + 2, to, keys([start + 2, start + 3]), [start + 4]]
      ])
      const expected = [...(yield* independent([first], start, start + 1)), ...(yield* independent([first, second], start + 2, to))].sort()
      // the transfer to the second account in the first part's blocks is before it was watched
      assert.strictEqual(expected.length, 4)
      assert.deepStrictEqual((yield* watchers.items("twice")).map((row) => row.id).sort(), expected)
      yield* watchers.remove("twice")
    }).pipe(Effect.scoped), 60_000)

  it.effect("a saved range beyond the depth (the head went back) is scanned afresh; what the earlier scan saved is dropped, and no item of a block that went away is recorded", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const { calls, fault, watchers } = yield* steppingWatchers()
      const watched = address(6)
      const start = (yield* act.head) + 1
      yield* watchers.add({ name: "shortened", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, startBlock: start, paused: true })
      const base = yield* act.snapshot
      const gone: Array<string> = []
      for (let round = 0; round < 4; round++) gone.push(`dev:${yield* act.sendRaw(yield* act.sign(7, watched, 1n))}`)
      fault.failAt = start + 3
      assert.strictEqual(reasonOf(yield* Effect.exit(watchers.poll("shortened")))[0], "ChainFailed")
      assert.deepStrictEqual(calls.map((call) => call.read), [range(start, start + 2)])

      // the chain goes back to before those blocks and grows two others, with other transfers
      yield* act.revert(base)
      const kept: Array<string> = []
      for (let round = 0; round < 2; round++) kept.push(`dev:${yield* act.sendRaw(yield* act.sign(8, watched, 2n))}`)
      assert.strictEqual(yield* act.head, start + 1)
      calls.length = 0
      fault.failAt = start + 1
      assert.strictEqual(reasonOf(yield* Effect.exit(watchers.poll("shortened")))[0], "ChainFailed")
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to, call.saved, call.read]), [[start, start + 1, [], [start]]])
      calls.length = 0
      yield* watchers.poll("shortened")
      // the fresh scan's own save is resumed, the earlier range's are gone
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to, call.saved, call.read]), [[start, start + 1, keys([start]), [start + 1]]])
      const rows = yield* watchers.items("shortened")
      assert.deepStrictEqual(rows.map((row) => row.id).sort(), [...kept].sort())
      assert.isTrue(rows.every((row) => !gone.includes(row.id)))
      assert.strictEqual((yield* watchers.get("shortened")).confirmedBlock, start + 1)
      yield* watchers.remove("shortened")
    }).pipe(Effect.scoped), 60_000)

  it.effect("a one-block range whose tick failed after its scan is scanned again as that block, from what it saved, though the head moved on", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const { calls, fault, watchers } = yield* steppingWatchers()
      const watched = address(12)
      const start = (yield* act.head) + 1
      yield* watchers.add({ name: "single", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, startBlock: start, paused: true })
      yield* act.sendRaw(yield* act.sign(13, watched, 1n))
      assert.strictEqual(yield* act.head, start)
      // the range is the one block, scanned and saved; reading its reference afterwards fails the tick
      fault.refsFailAt = start
      assert.deepStrictEqual(reasonOf(yield* Effect.exit(watchers.poll("single"))), [
        "ChainFailed",
        `chain dev: injected failure reading block ${start}'s reference`
      ])
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to, call.saved, call.read]), [[start, start, [], [start]]])
      assert.deepStrictEqual(yield* watchers.items("single"), [])

      // the head moves on: the saved one-block range is resumed as it was (nothing read again), the next block after it
      yield* act.sendRaw(yield* act.sign(13, watched, 1n))
      calls.length = 0
      yield* watchers.poll("single")
      assert.deepStrictEqual(calls.map((call) => [call.from, call.to, call.saved, call.read]), [
        [start, start, keys([start]), []],
        [start + 1, start + 1, [], [start + 1]]
      ])
      assert.deepStrictEqual((yield* watchers.items("single")).map((row) => row.id).sort(), yield* independent([watched], start, start + 1))
      assert.strictEqual((yield* watchers.get("single")).confirmedBlock, start + 1)
      yield* watchers.remove("single")
    }).pipe(Effect.scoped), 60_000)
})
