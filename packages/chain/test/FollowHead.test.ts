/**
 * `FollowHead` on a real Hardhat node: every new block processed once, in
 * order, recorded in the `BlockFeed` and published; its checkpoint (the last
 * block and the hashes of the last ones) and a restart that resumes after it;
 * a reorganization that forks inside what it remembers, followed from the
 * fork (the feed sees the replaced numbers again); and one deeper than it
 * remembers, which fails it. A provider's transient failure (a node that has
 * not the head's block yet) is polled again; any other fails it.
 */
import { assert, layer } from "@effect/vitest"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { Context, Effect, Exit, Fiber, Layer, Option, Scope, Stream } from "effect"
import { type Hex, hexToNumber } from "viem"
import { DevChain } from "@chainjobs/devchain"
import { BlockFeed, layerMemory as feedLayer } from "../src/BlockFeed.ts"
import * as ChainTasks from "../src/ChainTasks.ts"
import type * as EvmClient from "../src/EvmClient.ts"
import * as Chains from "../src/Chains.ts"
import * as FaultProxy from "./FaultProxy.ts"
import { client, devChainConfig } from "./fixtures.ts"

const headOf = (evm: EvmClient.EvmClient) => Effect.map(evm.request("eth_blockNumber"), (head) => hexToNumber(head as Hex))

/**
 * Mines `blocks` blocks one at a time, the first with a transfer of `value` wei (so that a branch differs from
 * another of the same height). One `hardhat_mine` of many blocks leaves the parent hash of the blocks inside the
 * run zero when they are read, so each is mined by itself.
 */
const mineBranch = (evm: EvmClient.EvmClient, blocks: number, value: number) =>
  Effect.gen(function*() {
    const [from, to] = [DevChain.accounts[16]!.address, DevChain.accounts[17]!.address]
    yield* evm.request("eth_sendTransaction", [{ from, to, value: `0x${value.toString(16)}` }])
    for (let block = 1; block < blocks; block++) yield* evm.request("evm_mine")
  })

/** A block feed of its own, kept in `scope`. */
const feedIn = (scope: Scope.Scope) => Layer.buildWithScope(feedLayer, scope)

/**
 * The supervisor with the chain kinds over the node, built in `scope` on a task store and a feed that outlive it
 * (a test subscribes to the feed before a restarted supervisor resumes its tasks).
 */
const startIn = (
  scope: Scope.Scope,
  store: Context.Context<TaskStore.TaskStore>,
  feed: Context.Context<BlockFeed>,
  url: string,
  settings: ChainTasks.KindsSettings = {}
) =>
  Layer.buildWithScope(
    ChainTasks.layerWith(settings).pipe(
      // its watchdog checks heartbeats often, for the test of a follower backing off under a heartbeat timeout
      Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: "10 millis", heartbeatCheckInterval: "50 millis" })),
      Layer.provideMerge(Chains.layerMemory([devChainConfig([url])]))
    ),
    scope
  ).pipe(
    Effect.provideContext(Context.merge(store, feed)),
    Effect.map((context) => ({ tasks: Context.get(context, Tasks.Tasks), feed: Context.get(feed, BlockFeed) }))
  )

/** The supervisor (the chain kinds under `settings`) and a feed, both in the current scope. */
const started = (store: Context.Context<TaskStore.TaskStore>, url: string, settings: ChainTasks.KindsSettings = {}) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    return yield* startIn(scope, store, yield* feedIn(scope), url, settings)
  })

/** The first `n` blocks the feed publishes from now, collected in a fiber (subscribed before this returns). */
const nextPublished = (feed: BlockFeed["Service"], n: number) =>
  Effect.flatMap(feed.subscribe, (stream) =>
    Effect.forkChild(Stream.runCollect(Stream.take(stream, n)).pipe(Effect.map((items) => items.map((item) => item.block)))))

/** Joins the collecting fiber, failing with what was published so far when it does not end within 20 s. */
const collected = <A, E>(fiber: Fiber.Fiber<A, E>, what: string) =>
  Fiber.join(fiber).pipe(
    Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error(`${what}: not all published within 20 s`)) })
  )

/** Waits until the proxy has forwarded `n` reads of `block` (at most 20 s, failing with the blocks read and the follower's status). */
const readsOf = (proxy: FaultProxy.FaultProxy, follower: { readonly info: Effect.Effect<{ readonly status: string }, unknown> }, block: number, n: number) =>
  Effect.gen(function*() {
    for (let tries = 0; proxy.counts.blocksRead.filter((number) => number === block).length < n; tries++) {
      if (tries > 2000) return yield* Effect.die(new Error(`blocks read: ${proxy.counts.blocksRead.join(", ")}; the follower: ${(yield* follower.info).status}`))
      yield* Effect.sleep("10 millis")
    }
  })

/** Waits until the feed's latest block is `number` (at most 20 s, failing with the latest it saw). */
const reached = (feed: BlockFeed["Service"], number: number) =>
  Effect.gen(function*() {
    for (let tries = 0; tries < 2000; tries++) {
      const latest = yield* feed.latest("dev")
      if (Option.exists(latest, (block) => block.number === number)) return
      yield* Effect.sleep("10 millis")
    }
    const latest = yield* feed.latest("dev")
    return yield* Effect.die(new Error(`block ${number} never recorded; the latest: ${Option.match(latest, { onNone: () => "none", onSome: (block) => String(block.number) })}`))
  })

/** The follower's checkpoint once it names `lastBlock` (written after the block is published; at most 20 s). */
const checkpointAt = (store: Context.Context<TaskStore.TaskStore>, id: string, lastBlock: number) =>
  Effect.gen(function*() {
    let checkpoint: typeof ChainTasks.FollowCheckpoint.Type | undefined
    for (let tries = 0; tries < 2000; tries++) {
      const record = yield* Context.get(store, TaskStore.TaskStore).get(id)
      checkpoint = Option.isSome(record) ? record.value.checkpoint as typeof ChainTasks.FollowCheckpoint.Type : undefined
      if (checkpoint?.lastBlock === lastBlock) return checkpoint
      if (Option.isSome(record) && record.value.status !== "running" && record.value.status !== "pending") {
        return yield* Effect.die(new Error(`the follower ended ${record.value.status} at ${JSON.stringify(checkpoint)}: ${JSON.stringify({ ...record.value, checkpoint: undefined })}`))
      }
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`no checkpoint at block ${lastBlock}; the last: ${JSON.stringify(checkpoint)}`))
  })

/** A client of the node, a task store, the supervisor and a feed over it (in the current scope), and the head now. */
const setup = Effect.gen(function*() {
  const chain = yield* DevChain.DevChain
  const evm = yield* client(devChainConfig([chain.url]))
  const store = yield* Layer.build(TaskStore.layerMemory)
  const { feed, tasks } = yield* started(store, chain.url)
  return { chain, evm, store, feed, tasks, head: yield* headOf(evm) }
})

layer(DevChain.layer(), { excludeTestServices: true, timeout: "60 seconds" })("FollowHead", (it) => {
  it.effect("processes every new block once, in order, records and publishes it, and checkpoints the last ones' hashes", () =>
    Effect.gen(function*() {
      const { evm, feed, head, store, tasks } = yield* setup
      // without fromBlock it starts at the head
      const published = yield* nextPublished(feed, 4)
      const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", pollMillis: 10 })
      yield* reached(feed, head)
      for (let block = 0; block < 3; block++) yield* evm.request("evm_mine")
      const blocks = yield* collected(published, "the head and three new blocks")
      assert.deepStrictEqual(blocks.map((block) => block.number), [head, head + 1, head + 2, head + 3])
      blocks.slice(1).forEach((block, index) => assert.strictEqual(block.parentHash, blocks[index]!.hash))
      assert.strictEqual(Option.getOrThrow(yield* feed.latest("dev")).hash, blocks[3]!.hash)
      assert.deepStrictEqual(yield* checkpointAt(store, follower.id, head + 3), {
        lastBlock: head + 3,
        recent: blocks.map((block) => ({ number: block.number, hash: block.hash }))
      })
      yield* follower.interrupt
    }), 60_000)

  it.effect("a follower from a block not mined yet waits for it, then processes it and those after", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url]))
      const head = yield* headOf(evm)
      // its node behind a proxy, to see it poll the head
      const proxy = yield* FaultProxy.make(chain.url)
      const { feed, tasks } = yield* started(yield* Layer.build(TaskStore.layerMemory), proxy.url)
      const published = yield* nextPublished(feed, 2)
      const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head + 2, pollMillis: 10 })
      // it has read the head a few times, found nothing to process, and is still following
      for (let tries = 0; proxy.counts.requests < 3; tries++) {
        if (tries > 2000) return yield* Effect.die(new Error(`the follower read the head ${proxy.counts.requests} times`))
        yield* Effect.sleep("10 millis")
      }
      assert.strictEqual((yield* follower.info).status, "running")
      for (let block = 0; block < 3; block++) yield* evm.request("evm_mine")
      const blocks = yield* collected(published, "the block it waited for and the next")
      assert.deepStrictEqual(blocks.map((block) => block.number), [head + 2, head + 3])
      yield* follower.interrupt
    }), 60_000)

  it.effect("a provider whose nodes lag each other (a head read from one, its blocks asked of another that has not them yet) is polled again: the follower goes on, no block skipped or twice", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url]))
      const head = yield* headOf(evm)
      // the head it reads is two blocks above the node's: the node answers null for them
      const proxy = yield* FaultProxy.make(chain.url, { headAhead: 2 })
      const { feed, tasks } = yield* started(yield* Layer.build(TaskStore.layerMemory), proxy.url)
      const published = yield* nextPublished(feed, 3)
      const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head, pollMillis: 10 })
      // it has asked for the missing block, and asked again
      yield* readsOf(proxy, follower, head + 1, 2)
      assert.strictEqual((yield* follower.info).status, "running")
      proxy.set({ headAhead: 0 })
      for (let block = 0; block < 2; block++) yield* evm.request("evm_mine")
      const blocks = yield* collected(published, "the first block, then the two the node lacked at first")
      assert.deepStrictEqual(blocks.map((block) => block.number), [head, head + 1, head + 2])
      blocks.slice(1).forEach((block, index) => assert.strictEqual(block.parentHash, blocks[index]!.hash))
      assert.strictEqual((yield* follower.info).status, "running")
      yield* follower.interrupt
    }), 60_000)

  it.effect("a follower backing off from a provider that keeps failing heartbeats meanwhile: a heartbeat timeout shorter than its backoff does not end it", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url]))
      const head = yield* headOf(evm)
      const proxy = yield* FaultProxy.make(chain.url, { headAhead: 1 })
      const { feed, tasks } = yield* started(yield* Layer.build(TaskStore.layerMemory), proxy.url, {
        [ChainTasks.FollowHead.name]: { heartbeatTimeoutMillis: 1000 }
      })
      const published = yield* nextPublished(feed, 2)
      const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head, pollMillis: 100 })
      // six reads of the missing block: backoffs of 100, 200, 400, 800 and 1,600 ms, the last longer than the timeout
      yield* readsOf(proxy, follower, head + 1, 6)
      assert.strictEqual((yield* follower.info).status, "running")
      proxy.set({ headAhead: 0 })
      yield* evm.request("evm_mine")
      const blocks = yield* collected(published, "the first block, then the one the node lacked at first")
      assert.deepStrictEqual(blocks.map((block) => block.number), [head, head + 1])
      yield* follower.interrupt
    }), 60_000)

  it.effect("a provider's refusal that is not transient (an invalid argument) fails the follower at once", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url]))
      const head = yield* headOf(evm)
      const proxy = yield* FaultProxy.make(chain.url, {
        providerError: { code: -32602, message: "invalid argument 0: hex number with leading zero digits" },
        providerErrorMethod: "eth_getBlockByNumber",
        providerErrorTimes: 1
      })
      const { tasks } = yield* started(yield* Layer.build(TaskStore.layerMemory), proxy.url)
      const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head, pollMillis: 10 })
      const exit = yield* follower.await.pipe(
        Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error("the follower did not fail within 20 s")) })
      )
      assert.isTrue(Exit.isFailure(exit), "the follower failed")
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((reason) => reason._tag === "Fail") : undefined
      const failure = error?._tag === "Fail" ? error.error as { readonly _tag: string; readonly reason: { readonly _tag: string; readonly code: number } } : undefined
      assert.strictEqual(failure?._tag, "ChainRequestError")
      assert.deepInclude(failure!.reason, { _tag: "JsonRpc", code: -32602 })
      assert.strictEqual(proxy.counts.providerError, 1)
    }), 60_000)

  it.effect("a restarted follower resumes after its checkpoint: no block twice, none skipped, its memory of hashes kept", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client(devChainConfig([chain.url]))
      const store = yield* Layer.build(TaskStore.layerMemory)
      const head = yield* headOf(evm)
      const firstScope = yield* Scope.make()
      const first = yield* startIn(firstScope, store, yield* feedIn(firstScope), chain.url)
      const follower = yield* first.tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head + 1, pollMillis: 10 })
      for (let block = 0; block < 2; block++) yield* evm.request("evm_mine")
      yield* checkpointAt(store, follower.id, head + 2)
      yield* Scope.close(firstScope, Exit.void)
      assert.strictEqual(Option.getOrThrow(yield* Context.get(store, TaskStore.TaskStore).get(follower.id)).status, "pending")
      // the chain moves on while no follower runs
      for (let block = 0; block < 2; block++) yield* evm.request("evm_mine")
      // subscribed before the supervisor starts and resumes the follower
      const feed = yield* feedIn(yield* Effect.scope)
      const published = yield* nextPublished(Context.get(feed, BlockFeed), 2)
      const second = yield* startIn(yield* Effect.scope, store, feed, chain.url)
      const blocks = yield* collected(published, "the blocks mined while stopped")
      assert.deepStrictEqual(blocks.map((block) => block.number), [head + 3, head + 4])
      const { recent } = yield* checkpointAt(store, follower.id, head + 4)
      assert.deepStrictEqual(recent!.map((item) => item.number), [head + 1, head + 2, head + 3, head + 4])
      yield* (yield* second.tasks.handle(follower.id)).interrupt
    }), 60_000)

  it.effect("a reorganization forking inside what it remembers is followed from the fork; the feed sees the replaced numbers again", () =>
    Effect.gen(function*() {
      const { evm, feed, head, store, tasks } = yield* setup
      yield* evm.request("evm_mine")
      const snapshot = yield* evm.request("evm_snapshot")
      yield* mineBranch(evm, 2, 1)
      const published = yield* nextPublished(feed, 6)
      const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head + 1, pollMillis: 10 })
      yield* reached(feed, head + 3)
      // head + 2 and head + 3 are replaced by a longer branch: head + 1 stays
      yield* evm.request("evm_revert", [snapshot])
      yield* mineBranch(evm, 3, 2)
      const blocks = yield* collected(published, "the first branch, then the second from the fork")
      assert.deepStrictEqual(blocks.map((block) => block.number), [head + 1, head + 2, head + 3, head + 2, head + 3, head + 4])
      assert.notStrictEqual(blocks[3]!.hash, blocks[1]!.hash)
      assert.strictEqual(blocks[3]!.parentHash, blocks[0]!.hash)
      blocks.slice(4).forEach((block, index) => assert.strictEqual(block.parentHash, blocks[3 + index]!.hash))
      const { recent } = yield* checkpointAt(store, follower.id, head + 4)
      assert.deepStrictEqual(recent, [blocks[0]!, blocks[3]!, blocks[4]!, blocks[5]!].map((block) => ({ number: block.number, hash: block.hash })))
      yield* follower.interrupt
    }), 60_000)

  it.effect("a reorganization replacing every block it remembers, all of them new, is followed from the first it processed", () =>
    Effect.gen(function*() {
      const { evm, feed, head, tasks } = yield* setup
      const snapshot = yield* evm.request("evm_snapshot")
      yield* mineBranch(evm, 2, 3)
      const published = yield* nextPublished(feed, 5)
      const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head + 1, pollMillis: 10 })
      yield* reached(feed, head + 2)
      yield* evm.request("evm_revert", [snapshot])
      yield* mineBranch(evm, 3, 4)
      const blocks = yield* collected(published, "the first branch, then the whole second")
      assert.deepStrictEqual(blocks.map((block) => block.number), [head + 1, head + 2, head + 1, head + 2, head + 3])
      assert.notStrictEqual(blocks[2]!.hash, blocks[0]!.hash)
      assert.strictEqual(blocks[2]!.parentHash, blocks[0]!.parentHash)
      yield* follower.interrupt
    }), 60_000)

  it.effect("a reorganization deeper than the blocks it remembers fails it with ParentMismatch", () =>
    Effect.gen(function*() {
      const { evm, head, store, tasks } = yield* setup
      const snapshot = yield* evm.request("evm_snapshot")
      const depth = ChainTasks.followWindow + 2
      yield* mineBranch(evm, depth, 5)
      const follower = yield* tasks.submit(ChainTasks.FollowHead, { chain: "dev", fromBlock: head + 1, pollMillis: 10 })
      const remembered = yield* checkpointAt(store, follower.id, head + depth)
      // it remembers the last followWindow blocks, no more
      assert.deepStrictEqual(
        remembered.recent!.map((item) => item.number),
        Array.from({ length: ChainTasks.followWindow }, (_, index) => head + depth - ChainTasks.followWindow + 1 + index)
      )
      // every block it processed is replaced, and it remembers only the last followWindow of them
      yield* evm.request("evm_revert", [snapshot])
      yield* mineBranch(evm, depth + 1, 6)
      const exit = yield* follower.await.pipe(
        Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(new Error("the follower did not fail within 20 s")) })
      )
      assert.isTrue(Exit.isFailure(exit), "the follower failed")
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((reason) => reason._tag === "Fail") : undefined
      const failure = error?._tag === "Fail" ? error.error as { readonly _tag: string; readonly reason: { readonly _tag: string; readonly number: number } } : undefined
      assert.strictEqual(failure?._tag, "BlockValidationError")
      assert.deepInclude(failure!.reason, { _tag: "ParentMismatch", number: head + depth + 1 })
    }), 60_000)
})
