import { assert, describe, it, layer } from "@effect/vitest"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { Context, Effect, Exit, Layer, Option, Schema, Scope, Stream } from "effect"
import { pad, toHex } from "viem"
import * as Activity from "../src/Activity.ts"
import * as ChainTasks from "../src/ChainTasks.ts"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import * as FaultProxy from "./FaultProxy.ts"
import { devChainConfig, Seeded, seededChain, supervisor } from "./fixtures.ts"

/** 100 addresses without activity. */
const strangers = Array.from({ length: 100 }, (_, index) => pad(toHex(index + 1000), { size: 20 }))

const keys = (activity: ReadonlyArray<Activity.Activity>) => activity.map(Activity.key)

/** Runs a program with the supervisor and the range kinds over a chain reached through `urls`. */
const withTasks = (urls: ReadonlyArray<string>) =>
  Effect.provide(supervisor(ChainTasks.layer, [devChainConfig(urls)]).pipe(Layer.provide(TaskStore.layerMemory)))

/** A supervisor over the chain behind `url`, on a task store that outlives it: `start` builds one in the scope given. */
const restartable = (url: string) =>
  Effect.map(Layer.build(TaskStore.layerMemory), (store) => {
    const kinds = supervisor(ChainTasks.layer, [devChainConfig([url])], { shutdownGracePeriod: "10 millis" })
    return {
      store: Context.get(store, TaskStore.TaskStore),
      start: (scope: Scope.Scope) =>
        Layer.buildWithScope(kinds, scope).pipe(Effect.provideContext(store), Effect.map(Context.get(Tasks.Tasks)))
    }
  })

/** Once the task reports 30 %, its endpoint stops answering and its supervisor (in `scope`) shuts down. */
const shutDownAt30 = <E>(
  events: Stream.Stream<{ readonly progress: number }, E>,
  proxy: FaultProxy.FaultProxy,
  scope: Scope.Closeable
) =>
  Effect.gen(function*() {
    yield* events.pipe(Stream.takeUntil((info) => info.progress >= 30), Stream.runDrain)
    proxy.set({ stall: 1 })
    yield* Scope.close(scope, Exit.void)
    proxy.set({ stall: 0 })
  })

layer(seededChain(), { excludeTestServices: true, timeout: 120_000 })("ChainTasks", (it) => {
  it.effect("a scan finds exactly the seeded activity of its addresses", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const watched = [seeded.participants[1]!, seeded.participants[4]!, ...strangers]
      const result = yield* Tasks.Tasks.use((tasks) =>
        tasks.run(ChainTasks.ScanAddresses, {
          chain: "dev",
          // an address given twice, in another case, is scanned once
          addresses: [...watched, seeded.participants[4]!.toUpperCase().replace("0X", "0x")],
          fromBlock: seeded.fromBlock,
          toBlock: seeded.toBlock,
          chunkSize: 25
        })).pipe(withTasks([chain.url]))
      const expected = DevSeed.expectedFor(seeded, watched)
      assert.isAbove(expected.filter((item) => item.kind === "erc20").length, 10)
      assert.isAbove(expected.filter((item) => item.kind === "native").length, 10)
      assert.deepStrictEqual(result.activity.map((item) => ({ ...item })), expected.map((item) => ({ ...item })))
      assert.strictEqual(result.addresses, 102)
    }))

  it.effect("a scan of a malformed address is rejected at submission", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const error = yield* Effect.flip(Tasks.Tasks.use((tasks) =>
        tasks.submit(ChainTasks.ScanAddresses, { chain: "dev", addresses: ["0x1234"], fromBlock: 0, toBlock: 1 })
      ).pipe(withTasks([chain.url])))
      assert.strictEqual(error._tag, "InvalidPayload")
    }))

  it.effect("a scan through failing endpoints finds the same set as a fault-free one", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const faults = { rateLimited: 0.1, serverError: 0.1, stall: 0.05, garble: 0.05, maxLogRange: 40 }
      const first = yield* FaultProxy.make(chain.url, faults, 7)
      const second = yield* FaultProxy.make(chain.url, faults, 8)
      const payload = {
        chain: "dev",
        addresses: seeded.participants,
        fromBlock: seeded.fromBlock,
        toBlock: seeded.toBlock,
        chunkSize: 50
      }
      const run = Tasks.Tasks.use((tasks) => tasks.run(ChainTasks.ScanAddresses, payload))
      const clean = yield* run.pipe(withTasks([chain.url]))
      const faulty = yield* run.pipe(
        Effect.provide(
          supervisor(ChainTasks.layer, [
            devChainConfig([
              { url: first.url, rateLimit: { limit: 200, window: "1 second" } },
              { url: second.url, rateLimit: { limit: 200, window: "1 second" } }
            ], { batchSize: 20 })
          ]).pipe(Layer.provide(TaskStore.layerMemory))
        )
      )
      assert.deepStrictEqual(keys(faulty.activity), keys(clean.activity))
      assert.deepStrictEqual(keys(clean.activity), keys(DevSeed.expectedFor(seeded, seeded.participants)))
      const injected = [first.counts, second.counts].reduce(
        (sum, counts) => sum + counts.rateLimited + counts.serverError + counts.stall + counts.garble + counts.rangeRejected,
        0
      )
      assert.isAbove(injected, 10)
      // its time limit: every injected stall waits out the 500 ms request limit (its endpoints' retries too), which
      // with the scans' own work took vitest's 5-second default at load 28 (Stryker's dry run failed on it)
    }), 60_000)

  it.effect("a scan stopped by a shutdown resumes from its checkpoint and finds the same set once", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const proxy = yield* FaultProxy.make(chain.url)
      const { start, store } = yield* restartable(proxy.url)

      const firstScope = yield* Scope.make()
      const first = yield* start(firstScope)
      const handle = yield* first.submit(ChainTasks.ScanAddresses, {
        chain: "dev",
        addresses: seeded.participants,
        fromBlock: seeded.fromBlock,
        toBlock: seeded.toBlock,
        chunkSize: 20
      })
      yield* shutDownAt30(handle.events, proxy, firstScope)
      const stopped = Option.getOrThrow(yield* store.get(handle.id))
      assert.strictEqual(stopped.status, "pending")
      assert.isTrue(stopped.progress >= 30 && stopped.progress < 100, `stopped at ${stopped.progress}%`)
      const { lastBlock } = stopped.checkpoint as { readonly lastBlock: number }
      assert.isTrue(lastBlock > seeded.fromBlock && lastBlock < seeded.toBlock, `checkpoint at block ${lastBlock}`)

      proxy.counts.blocksRead.length = 0
      const second = yield* start(yield* Effect.scope)
      const resumed = yield* second.awaitInfo(handle.id)
      assert.strictEqual(resumed.status, "completed")
      assert.strictEqual(resumed.attempt, 2)
      const result = yield* (yield* second.handle(handle.id)).join
      const activity = (result as typeof ChainTasks.ScanResult.Type).activity
      const expected = keys(DevSeed.expectedFor(seeded, seeded.participants))
      assert.deepStrictEqual(keys(activity), expected)
      assert.strictEqual(new Set(keys(activity)).size, activity.length)
      // the resumed run read the blocks after the checkpoint, each once, and none before it; then the last block
      // once more, to check that the range's end is still on the chain
      const reread = [...proxy.counts.blocksRead].sort((a, b) => a - b)
      assert.deepStrictEqual(reread, [
        ...Array.from({ length: seeded.toBlock - lastBlock }, (_, index) => lastBlock + 1 + index),
        seeded.toBlock
      ])
    }))

  it.effect("a scan stops checkpointing once its checkpoint would hold more items than its limit", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const store = yield* Layer.build(TaskStore.layerMemory)
      const tasks = Context.get(
        yield* Layer.build(supervisor(ChainTasks.layer, [devChainConfig([chain.url])])).pipe(Effect.provideContext(store)),
        Tasks.Tasks
      )
      const handle = yield* tasks.submit(ChainTasks.ScanAddresses, {
        chain: "dev",
        addresses: seeded.participants,
        fromBlock: seeded.fromBlock,
        toBlock: seeded.toBlock,
        chunkSize: 10,
        checkpointItems: 20
      })
      const result = yield* handle.join
      assert.deepStrictEqual(keys(result.activity), keys(DevSeed.expectedFor(seeded, seeded.participants)))
      const checkpoint = Option.getOrThrow(yield* Context.get(store, TaskStore.TaskStore).get(handle.id)).checkpoint as {
        readonly lastBlock: number
        readonly state: ReadonlyArray<unknown>
      }
      assert.isAtMost(checkpoint.state.length, 20)
      assert.isAbove(checkpoint.state.length, 0)
      assert.isBelow(checkpoint.lastBlock, seeded.toBlock)
    }))

  it.effect("syncs a contract's events into counts by event name", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const events = [
        "event Transfer(address indexed from, address indexed to, uint256 value)",
        "event Approval(address indexed owner, address indexed spender, uint256 value)"
      ]
      const transfers = seeded.activity.filter((item) => item.kind === "erc20").length
      const [all, recent] = yield* Tasks.Tasks.use((tasks) =>
        Effect.all([
          tasks.run(ChainTasks.SyncEvents, { chain: "dev", address: seeded.token, events, chunkSize: 64 }),
          tasks.run(ChainTasks.SyncEvents, { chain: "dev", address: seeded.token, events, lastBlocks: 50 })
        ])).pipe(withTasks([chain.url]))
      assert.strictEqual(all.fromBlock, 0)
      assert.isAtLeast(all.toBlock, seeded.toBlock)
      assert.deepStrictEqual(all.counts, { Transfer: transfers })
      assert.strictEqual(all.total, transfers)
      assert.strictEqual(recent.toBlock - recent.fromBlock + 1, 50)
      const inRange = seeded.activity.filter((item) =>
        item.kind === "erc20" && item.blockNumber >= recent.fromBlock && item.blockNumber <= recent.toBlock
      )
      assert.deepStrictEqual(recent.counts, inRange.length === 0 ? {} : { Transfer: inRange.length })
    }))

  it.effect("fetches a block range as linked block summaries", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const result = yield* Tasks.Tasks.use((tasks) =>
        tasks.run(ChainTasks.FetchBlocks, { chain: "dev", fromBlock: 0, toBlock: seeded.toBlock, chunkSize: 64 })).pipe(
          withTasks([chain.url])
        )
      assert.deepStrictEqual(result.blocks.map((block) => block.number), Array.from({ length: seeded.toBlock + 1 }, (_, n) => n))
      result.blocks.slice(1).forEach((block, index) => assert.strictEqual(block.parentHash, result.blocks[index]!.hash))
      const transactions = result.blocks.reduce((sum, block) => sum + block.transactions, 0)
      assert.strictEqual(transactions, seeded.activity.filter((item) => item.kind === "native").length)
    }))

  // last: it mines blocks
  it.effect("a resumed sync of the last N blocks reports the range its counts cover", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const proxy = yield* FaultProxy.make(chain.url)
      const { start } = yield* restartable(proxy.url)
      const event = "event Transfer(address indexed from, address indexed to, uint256 value)"

      const firstScope = yield* Scope.make()
      const first = yield* start(firstScope)
      const handle = yield* first.submit(ChainTasks.SyncEvents, {
        chain: "dev",
        address: seeded.token,
        events: [event],
        lastBlocks: 100,
        chunkSize: 5
      })
      yield* shutDownAt30(handle.events, proxy, firstScope)
      // the chain moves on by more than N blocks before the sync resumes
      yield* Effect.promise(() =>
        fetch(chain.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "hardhat_mine", params: ["0xc8"] })
        })
      )
      const second = yield* start(yield* Effect.scope)
      assert.strictEqual((yield* second.awaitInfo(handle.id)).status, "completed")
      const summary = (yield* (yield* second.handle(handle.id)).join) as typeof ChainTasks.SyncSummary.Type
      const covered = seeded.activity.filter((item) =>
        item.kind === "erc20" && item.blockNumber >= summary.fromBlock && item.blockNumber <= summary.toBlock
      )
      assert.isAbove(covered.length, 0)
      assert.deepStrictEqual(summary.counts, { Transfer: covered.length })
    }), 60_000) // two service starts, a shutdown and a resumed sync: past vitest's 5 s at load 19, once
  it.effect("a validating scan refuses a provider that claims another sender; an unvalidating one reports the forgery", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const forger = strangers[0]!
      const lying = yield* FaultProxy.make(chain.url, { rewriteFrom: forger })
      const range = { chain: "dev", addresses: [forger], fromBlock: seeded.fromBlock, toBlock: seeded.fromBlock + 30, chunkSize: 10 }
      const trusting = yield* Tasks.Tasks.use((tasks) => tasks.run(ChainTasks.ScanAddresses, range)).pipe(withTasks([lying.url]))
      assert.isAbove(trusting.activity.length, 0)
      const refused = yield* Tasks.Tasks.use((tasks) => Effect.flip(tasks.run(ChainTasks.ScanAddresses, { ...range, validate: true })))
        .pipe(withTasks([lying.url]))
      assert.deepInclude(refused, { _tag: "BlockValidationError" })
      assert.strictEqual((refused as { readonly reason: { readonly _tag: string } }).reason._tag, "SenderMismatch")
      // on an honest provider, validating changes nothing
      const participants = { ...range, addresses: seeded.participants }
      const [plain, validated] = yield* Tasks.Tasks.use((tasks) =>
        Effect.all([tasks.run(ChainTasks.ScanAddresses, participants), tasks.run(ChainTasks.ScanAddresses, { ...participants, validate: true })])
      ).pipe(withTasks([chain.url]))
      assert.isAbove(plain.activity.length, 0)
      assert.deepStrictEqual(keys(validated.activity), keys(plain.activity))
    }))
})

describe("ChainTasks policies", () => {
  it("the range kinds carry their defaults: a 15-minute sync, a 2-minute heartbeat, one scan of a wallet set at a time", () => {
    assert.strictEqual(ChainTasks.SyncEvents.policy.timeoutMillis, 15 * 60_000)
    for (const kind of [ChainTasks.FetchBlocks, ChainTasks.ScanAddresses, ChainTasks.SyncEvents]) {
      assert.strictEqual(kind.policy.heartbeatTimeoutMillis, 2 * 60_000, kind.name)
    }
    assert.strictEqual(ChainTasks.ScanAddresses.policy.onConflict, "reject")
  })

  it.prop(
    "a scan's key is its chain and its set of addresses, whatever their order or case",
    { numbers: Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 2 ** 31 }))) },
    ({ numbers }) => {
      const addresses = Array.from(new Set(numbers), (n) => pad(toHex(n), { size: 20 }))
      if (addresses.length === 0) return
      const shuffled = [...addresses].reverse().map((address, index) => index % 2 === 0 ? address.toUpperCase().replace("0X", "0x") : address)
      assert.strictEqual(ChainTasks.scanKey({ chain: "a", addresses }), ChainTasks.scanKey({ chain: "a", addresses: [...shuffled, addresses[0]!] }))
      assert.notStrictEqual(ChainTasks.scanKey({ chain: "a", addresses }), ChainTasks.scanKey({ chain: "b", addresses }))
      assert.notStrictEqual(ChainTasks.scanKey({ chain: "a", addresses }), ChainTasks.scanKey({ chain: "a", addresses: addresses.slice(1) }))
    }
  )
})

layer(seededChain(), { excludeTestServices: true, timeout: 120_000 })("ChainTasks defaults on a chain", (it) => {
  /** A scan of `addresses` that waits for blocks far past the head: it stays unfinished until interrupted. */
  const pendingScan = (addresses: ReadonlyArray<string>, head: number) => ({
    chain: "dev",
    addresses,
    fromBlock: head + 1000,
    toBlock: head + 1000,
    confirmations: 1,
    pollMillis: 20
  })

  it.effect("a second scan of the same wallets is refused while the first runs, naming it; another set is not", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const [alice, bob, carol] = seeded.participants
      yield* Tasks.Tasks.use((tasks) =>
        Effect.gen(function*() {
          const head = seeded.toBlock
          const first = yield* tasks.submit(ChainTasks.ScanAddresses, pendingScan([alice!, bob!], head))
          const refused = yield* Effect.flip(
            tasks.submit(ChainTasks.ScanAddresses, pendingScan([bob!.toUpperCase().replace("0X", "0x"), alice!], head))
          )
          assert.strictEqual(refused._tag, "SubmitRejected")
          assert.deepInclude(refused, { reason: "key-busy", holder: first.id })
          const other = yield* tasks.submit(ChainTasks.ScanAddresses, pendingScan([alice!, carol!], head))
          // the caller may still choose to join the scan in progress
          const joined = yield* tasks.submit(ChainTasks.ScanAddresses, pendingScan([alice!, bob!], head), { onConflict: "join" })
          assert.strictEqual(joined.id, first.id)
          yield* first.interrupt
          yield* first.await
          const again = yield* tasks.submit(ChainTasks.ScanAddresses, pendingScan([alice!, bob!], head))
          yield* Effect.all([other.interrupt, again.interrupt])
        })
      ).pipe(withTasks([chain.url]))
    }))

  it.effect("the service's settings override a kind's policy: a sync's timeout, a scan's conflict choice", () =>
    Effect.gen(function*() {
      const seeded = yield* Seeded
      const chain = yield* DevChain.DevChain
      const settings = {
        "chain/sync-events": { timeoutMillis: 1, retries: 0 },
        "chain/scan-addresses": { onConflict: "queue" as const }
      }
      yield* Tasks.Tasks.use((tasks) =>
        Effect.gen(function*() {
          const sync = yield* tasks.submit(ChainTasks.SyncEvents, { chain: "dev", address: seeded.token, events: [] })
          const exit = yield* sync.await
          assert.isTrue(Exit.isFailure(exit))
          const error = Exit.isFailure(exit) ? exit.cause.reasons.find((reason) => reason._tag === "Fail") : undefined
          assert.deepInclude(error?._tag === "Fail" ? error.error : undefined, { _tag: "TaskAborted", reason: "timeout" })
          const payload = pendingScan(seeded.participants.slice(0, 2), seeded.toBlock)
          const first = yield* tasks.submit(ChainTasks.ScanAddresses, payload)
          const queued = yield* tasks.submit(ChainTasks.ScanAddresses, payload)
          assert.notStrictEqual(queued.id, first.id)
          yield* Effect.all([first.interrupt, queued.interrupt])
        })
      ).pipe(
        Effect.provide(
          supervisor(ChainTasks.layerWith(settings), [devChainConfig([chain.url])]).pipe(Layer.provide(TaskStore.layerMemory))
        )
      )
    }))
})
