/**
 * When the supervisor retries a chain task, against a real Hardhat node
 * behind the fault proxy, with a client that does not retry itself: an
 * attempt that failed on a transient provider failure (a node behind a load
 * balancer that has not the block yet) is retried, one the provider refused
 * for good or whose block failed validation is not, and the service's
 * `retries` setting caps (or, at 0, removes) the retries of a kind.
 */
import { assert, layer } from "@effect/vitest"
import { type TaskInfo, TaskStore, Tasks } from "@chainjobs/tasks"
import { Effect, Layer } from "effect"
import { DevChain } from "@chainjobs/devchain"
import * as ChainTasks from "../src/ChainTasks.ts"
import * as FaultProxy from "./FaultProxy.ts"
import { devChainConfig, supervisor } from "./fixtures.ts"

/** The supervisor with the chain kinds (under `settings`) over the endpoint at `url`, whose client makes one attempt per call. */
const withTasks = (url: string, settings: ChainTasks.KindsSettings = {}) =>
  Effect.provide(
    supervisor(ChainTasks.layerWith(settings), [devChainConfig([url], { retry: { times: 0 } })]).pipe(Layer.provide(TaskStore.layerMemory))
  )

/** One JSON-RPC call to the node at `url`. */
const nodeCall = (url: string, method: string, params: ReadonlyArray<unknown> = []) =>
  Effect.promise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params })
    }).then((response) => response.json() as Promise<{ readonly result: unknown }>)
  ).pipe(Effect.map((answer) => answer.result))

/** Mines blocks until the node's head is at least 2. */
const headAtLeast2 = (url: string) =>
  Effect.gen(function*() {
    while (Number(yield* nodeCall(url, "eth_blockNumber")) < 2) yield* nodeCall(url, "evm_mine")
  })

/** Runs a `FetchBlocks` of blocks 0–2 to its end; its final record. */
const fetchToEnd = Tasks.Tasks.use((tasks) =>
  Effect.flatMap(
    tasks.submit(ChainTasks.FetchBlocks, { chain: "dev", fromBlock: 0, toBlock: 2 }),
    (handle) => Effect.andThen(handle.await, tasks.get(handle.id))
  )
)

/** The error of a failed record, as stored. */
const errorOf = (info: TaskInfo.TaskInfo) => info.error as { readonly _tag: string; readonly reason: { readonly _tag: string } }

/** A node that has not the block yet, as geth answers behind a load balancer: transient. */
const notYet = { code: -32000, message: "header not found" }

layer(DevChain.layer(), { excludeTestServices: true, timeout: "60 seconds" })("chain task retries", (it) => {
  it.effect("an attempt that failed on a transient provider failure is retried, and the retry completes", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      yield* headAtLeast2(chain.url)
      const proxy = yield* FaultProxy.make(chain.url, { providerError: notYet, providerErrorTimes: 1 })
      const info = yield* fetchToEnd.pipe(withTasks(proxy.url))
      assert.strictEqual(proxy.counts.providerError, 1)
      assert.deepInclude(info, { status: "completed", attempt: 2 }, JSON.stringify(info))
      assert.deepStrictEqual((info.result as { readonly blocks: ReadonlyArray<{ readonly number: number }> }).blocks.map((block) => block.number), [0, 1, 2])
    }), 60_000)

  it.effect("an attempt the provider refused for good is not retried", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      yield* headAtLeast2(chain.url)
      const proxy = yield* FaultProxy.make(chain.url, { providerError: { code: -32602, message: "invalid argument 0: hex string without 0x prefix" }, providerErrorTimes: 1 })
      const info = yield* fetchToEnd.pipe(withTasks(proxy.url))
      assert.deepInclude(info, { status: "failed", attempt: 1 })
      assert.deepInclude(errorOf(info), { _tag: "ChainRequestError" })
      assert.strictEqual(errorOf(info).reason._tag, "JsonRpc")
    }), 60_000)

  it.effect("a scan whose block failed validation is not retried: the provider answered what the chain does not hold", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const forger = "0x00000000000000000000000000000000000000f0"
      // a transfer to mine a block with a transaction, whose sender the lying provider claims is the forger
      yield* nodeCall(chain.url, "eth_sendTransaction", [{ from: DevChain.accounts[2]!.address, to: DevChain.accounts[3]!.address, value: "0x1" }])
      const lying = yield* FaultProxy.make(chain.url, { rewriteFrom: forger })
      const info = yield* Tasks.Tasks.use((tasks) =>
        Effect.flatMap(
          tasks.submit(ChainTasks.ScanAddresses, { chain: "dev", addresses: [forger], fromBlock: 0, validate: true }),
          (handle) => Effect.andThen(handle.await, tasks.get(handle.id))
        )
      ).pipe(withTasks(lying.url))
      assert.deepInclude(info, { status: "failed", attempt: 1 })
      assert.deepInclude(errorOf(info), { _tag: "BlockValidationError" })
      assert.strictEqual(errorOf(info).reason._tag, "SenderMismatch")
    }), 60_000)

  it.effect("the service's retries setting caps a kind's retries of transient failures; 0 removes them", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      yield* headAtLeast2(chain.url)
      // every call fails as a node without the block: each attempt fails
      const proxy = yield* FaultProxy.make(chain.url, { providerError: notYet, providerErrorRate: 1 })
      const once = yield* fetchToEnd.pipe(withTasks(proxy.url, { "chain/fetch-blocks": { retries: 1 } }))
      assert.deepInclude(once, { status: "failed", attempt: 2 })
      assert.strictEqual(errorOf(once).reason._tag, "MissingBlock")
      const never = yield* fetchToEnd.pipe(withTasks(proxy.url, { "chain/fetch-blocks": { retries: 0 } }))
      assert.deepInclude(never, { status: "failed", attempt: 1 })
    }), 60_000)
})
