/**
 * Scans and head following across real reorganizations of the Hardhat node:
 * `evm_snapshot`, blocks of one branch, `evm_revert` and blocks of another
 * branch at the same heights, while a task is reading them.
 */
import { assert, layer } from "@effect/vitest"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { Effect, Fiber, Layer, Option, Schedule, Stream } from "effect"
import { encodeFunctionData, type Hex, hexToNumber, toHex } from "viem"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import * as Activity from "../src/Activity.ts"
import * as AddressScan from "../src/AddressScan.ts"
import { BlockFeed } from "../src/BlockFeed.ts"
import * as ChainTasks from "../src/ChainTasks.ts"
import type * as EvmClient from "../src/EvmClient.ts"
import * as FaultProxy from "./FaultProxy.ts"
import { client, devChainConfig, Seeded, seededChain, supervisor } from "./fixtures.ts"

/** The supervisor and the chain kinds over the chain behind `url`. */
const withTasks = (url: string) =>
  Effect.provide(supervisor(ChainTasks.layer, [devChainConfig([url])]).pipe(Layer.provide(TaskStore.layerMemory)))

/**
 * Polls (on the real clock, 10 ms apart) until the condition holds: for waiting on a real server. A defect after
 * 1,500 polls (15 s): a scan that failed before the awaited point fails the test then, not at its timeout.
 */
const eventually = (condition: () => boolean) =>
  Effect.suspend(() => condition() ? Effect.void : Effect.fail("not yet")).pipe(
    Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 1500 }),
    Effect.mapError(() => new Error("the condition awaited did not hold within 15 s")),
    Effect.orDie
  )

/** Joins a forked scan, or fails once it has not ended within 20 s. */
const joined = <A, E>(scan: Fiber.Fiber<A, E>) =>
  Fiber.join(scan).pipe(
    Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error("the scan did not end within 20 s")) })
  )

const headOf = (evm: EvmClient.EvmClient) => Effect.map(evm.request("eth_blockNumber"), (head) => hexToNumber(head as Hex))

/** One block per transfer of `values` wei from `from` to `to`; their hashes. */
const transfers = (evm: EvmClient.EvmClient, from: string, to: string, values: ReadonlyArray<number>) =>
  Effect.forEach(values, (value) =>
    Effect.map(evm.request("eth_sendTransaction", [{ from, to, value: toHex(value) }]), (hash) => hash as string))

/** The dev chain, its seeded activity, a client of it, three participants and the head now. */
const setup = Effect.gen(function*() {
  const chain = yield* DevChain.DevChain
  const seeded = yield* Seeded
  const evm = yield* client(devChainConfig([chain.url]))
  const [alice, bob, carol] = seeded.participants
  return { chain, seeded, evm, alice: alice!, bob: bob!, carol: carol!, head: yield* headOf(evm) }
})

const keys = (activity: ReadonlyArray<Activity.Activity>) => activity.map(Activity.key)

layer(seededChain({ rounds: 4 }), { excludeTestServices: true, timeout: 120_000 })("reorganizations", (it) => {
  it.effect("a scan that runs across a reorganization reports the chain as it is, none of the orphaned blocks", () =>
    Effect.gen(function*() {
      const { alice, bob, carol, chain, evm, head } = yield* setup
      const snapshot = yield* evm.request("evm_snapshot")
      const orphaned = yield* transfers(evm, alice, bob, [1001, 1002, 1003, 1004, 1005, 1006])
      // the scan reads up to head + 3 from the first branch, then waits for the blocks after it
      const proxy = yield* FaultProxy.make(chain.url, { holdAbove: head + 3 })
      const scan = yield* Effect.forkChild(
        Tasks.Tasks.use((tasks) =>
          tasks.run(ChainTasks.ScanAddresses, {
            chain: "dev",
            addresses: [alice, bob, carol],
            fromBlock: head - 5,
            toBlock: head + 6,
            chunkSize: 3
          })
        ).pipe(withTasks(proxy.url))
      )
      yield* eventually(() => proxy.counts.held > 0)
      // the six blocks are replaced by six others with other transfers
      yield* evm.request("evm_revert", [snapshot])
      const canonical = yield* transfers(evm, alice, carol, [2001, 2002, 2003, 2004, 2005, 2006])
      proxy.set({ holdAbove: Number.POSITIVE_INFINITY })
      const result = yield* joined(scan)
      const found = new Set(keys(result.activity))
      assert.isTrue(orphaned.every((hash) => !found.has(hash)), "activity of orphaned blocks reported")
      assert.isTrue(canonical.every((hash) => found.has(hash)), "activity of the chain's blocks missing")
      const expected = yield* AddressScan.scanRange(evm, [alice, bob, carol], head - 5, head + 6)
      assert.deepStrictEqual(keys(result.activity), keys(expected))
    }), 60_000) // its own waits are bounded at 15 and 20 s; vitest's 5 s ended it at load 18 with four files beside it

  it.effect("with confirmations, a scan reads no block before it is that deep", () =>
    Effect.gen(function*() {
      const { alice, bob, chain, evm, head } = yield* setup
      const proxy = yield* FaultProxy.make(chain.url)
      const scan = yield* Effect.forkChild(
        Tasks.Tasks.use((tasks) =>
          tasks.run(ChainTasks.ScanAddresses, {
            chain: "dev",
            addresses: [alice, bob],
            fromBlock: head - 1,
            toBlock: head + 2,
            chunkSize: 2,
            confirmations: 3,
            pollMillis: 10
          })
        ).pipe(withTasks(proxy.url))
      )
      // blocks head - 1 and head have 3 confirmations once head + 2 is mined; head + 1 and head + 2 only at head + 4
      const sent = yield* transfers(evm, alice, bob, [3001, 3002])
      yield* eventually(() => proxy.counts.blocksRead.includes(head))
      const polled = proxy.counts.requests
      yield* eventually(() => proxy.counts.requests > polled + 5)
      assert.isFalse(proxy.counts.blocksRead.some((number) => number > head), "a block read before it had 3 confirmations")
      assert.isUndefined(scan.pollUnsafe(), "the scan completed before its last blocks had 3 confirmations")
      yield* evm.request("hardhat_mine", ["0x2"])
      const result = yield* joined(scan)
      const found = new Set(keys(result.activity))
      assert.isTrue(sent.every((hash) => found.has(hash)))
    }))

  it.effect("with confirmations, SyncEvents counts no log of a block not yet that deep", () =>
    Effect.gen(function*() {
      const { alice, bob, chain, evm, head, seeded } = yield* setup
      const data = encodeFunctionData({ abi: DevSeed.tokenAbi, functionName: "transfer", args: [bob, 7n] })
      yield* evm.request("eth_sendTransaction", [{ from: alice, to: seeded.token, data }])
      const events = ["event Transfer(address indexed from, address indexed to, uint256 value)"]
      const [confirmed, all] = yield* Tasks.Tasks.use((tasks) =>
        Effect.all([
          tasks.run(ChainTasks.SyncEvents, { chain: "dev", address: seeded.token, events, fromBlock: head, confirmations: 2 }),
          tasks.run(ChainTasks.SyncEvents, { chain: "dev", address: seeded.token, events, fromBlock: head })
        ])
      ).pipe(withTasks(chain.url))
      assert.deepInclude(confirmed, { toBlock: head, total: 0 })
      assert.deepInclude(all, { toBlock: head + 1, total: 1 })
    }))

  it.effect("FollowHead notices blocks replaced by as many others, though the head does not move", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url]))
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const feed = yield* BlockFeed
        const head = yield* headOf(evm)
        const snapshot = yield* evm.request("evm_snapshot")
        yield* evm.request("hardhat_mine", ["0x2"])
        const published = yield* Effect.forkChild(Stream.runCollect(Stream.take(yield* feed.subscribe, 4)))
        const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head + 1, pollMillis: 10 })
        while (!Option.exists(yield* feed.latest("dev"), (block) => block.number === head + 2)) yield* Effect.sleep("10 millis")
        // the two blocks are replaced by two others, the first with a transaction: the head stays at head + 2
        yield* evm.request("evm_revert", [snapshot])
        const [from, to] = [chain.accounts[11]!.address, chain.accounts[12]!.address]
        yield* evm.request("eth_sendTransaction", [{ from, to, value: "0x1" }])
        yield* evm.request("hardhat_mine", ["0x1"])
        assert.strictEqual(yield* headOf(evm), head + 2)
        const blocks = (yield* Fiber.join(published).pipe(Effect.timeout("5 seconds"))).map((item) => item.block)
        assert.deepStrictEqual(blocks.map((block) => block.number), [head + 1, head + 2, head + 1, head + 2])
        assert.notStrictEqual(blocks[2]!.hash, blocks[0]!.hash)
        assert.strictEqual(blocks[2]!.transactions, 1)
        assert.strictEqual(blocks[3]!.parentHash, blocks[2]!.hash)
        assert.strictEqual(Option.getOrThrow(yield* feed.latest("dev")).hash, blocks[3]!.hash)
        yield* follower.interrupt
      }).pipe(withTasks(chain.url))
    }))
})
