/**
 * The errors real providers and nodes send, each through the fault-injecting
 * proxy: rate limits pause the endpoint and are retried, ranges too large
 * shrink the `eth_getLogs` range, missing blocks are retried, and final
 * errors stay final. The messages are recorded from the providers' answers
 * as quoted in public bug reports and provider documentation.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { Effect, Layer, Schema } from "effect"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import * as Activity from "../src/Activity.ts"
import { transferTopic } from "../src/AddressScan.ts"
import * as ChainTasks from "../src/ChainTasks.ts"
import * as ProviderErrors from "../src/ProviderErrors.ts"
import * as FaultProxy from "./FaultProxy.ts"
import { client, devChainConfig, Seeded, seededChain, supervisor } from "./fixtures.ts"

interface Sample extends FaultProxy.ProviderError {
  readonly from: string
}

const rateLimits: ReadonlyArray<Sample> = [
  { from: "public node", code: -32005, message: "limit exceeded" },
  { from: "Infura", code: -32005, message: "daily request count exceeded, request rate limited" },
  { from: "Infura", code: -32005, message: "project ID request rate exceeded" },
  { from: "Infura", code: -32005, message: "exceeded project rate limit", status: 429 },
  { from: "Tenderly", code: -32005, message: "rate limit exceeded" },
  {
    from: "Alchemy",
    code: 429,
    message: "Your app has exceeded its compute units per second capacity. If you have retries enabled, you can safely ignore this message. If not, check out https://docs.alchemy.com/reference/throughput"
  },
  {
    from: "Alchemy",
    code: -32600,
    message: "Monthly capacity limit exceeded. Visit https://dashboard.alchemyapi.io/settings/billing to upgrade your scaling policy for continued service.",
    status: 403
  },
  { from: "QuickNode", code: -32012, message: "credits limited to 6000/sec" },
  { from: "Base public node", code: -32016, message: "over rate limit" },
  { from: "a proxy in front of a node", code: -32000, message: "429 Too Many Requests: {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32016,\"message\":\"over rate limit\"},\"id\":1}" },
  { from: "public node", code: -32029, message: "request limit reached" }
]

const rangeLimits: ReadonlyArray<Sample> = [
  { from: "Infura", code: -32005, message: "query returned more than 10000 results. Try with this block range [0xBDE5F8, 0x102DBCC]." },
  { from: "Infura", code: -32602, message: "range 1000000 exceeds limit of 10000" },
  {
    from: "Alchemy",
    code: -32602,
    message: "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response."
  },
  { from: "Alchemy", code: -32600, message: "You can make eth_getLogs requests with up to a 500 block range. Based on your parameters, this block range should work: [0x123c9b2, 0x123cba5]" },
  { from: "QuickNode", code: -32614, message: "eth_getLogs is limited to a 10,000 range", status: 413 },
  { from: "1RPC", code: -32000, message: "eth_getLogs is limited to a 1000 blocks range" },
  { from: "Moonbeam (frontier)", code: -32603, message: "block range is too wide (maximum 1024)" },
  { from: "Morph (geth fork)", code: -32000, message: "block range is larger than max block range, block range = 5120, max block range = 5000" },
  { from: "Scroll (geth fork)", code: -32000, message: "block range is bigger than maxBlockRange" },
  { from: "zkSync", code: -32602, message: "Query returned more than 10000 results. Try with this block range [0x0, 0x30f]." },
  { from: "Candle", code: -32600, message: "block range too high" },
  { from: "geth-based nodes", code: -32005, message: "query timeout exceeded" }
]

const missingBlocks: ReadonlyArray<Sample> = [
  { from: "geth, Infura", code: -32000, message: "header not found" },
  { from: "geth, besu", code: -32000, message: "unknown block" },
  { from: "erigon", code: -32000, message: "block not found" },
  { from: "geth (execution-apis tests)", code: -32602, message: "block range extends beyond current head block" }
]

const finals: ReadonlyArray<Sample> = [
  { from: "geth", code: -32601, message: "the method eth_foo does not exist/is not available" },
  { from: "geth", code: -32602, message: "invalid argument 0: hex string has length 3, want 64 for common.Hash" },
  { from: "geth", code: 3, message: "execution reverted" },
  { from: "geth", code: -32000, message: "nonce too low" },
  { from: "geth", code: -32000, message: "insufficient funds for gas * price + value" },
  { from: "geth", code: -32000, message: "missing trie node 7e01a9c5b2a5cbd4ff5b47dc2a50d1e7d8c7a6f2 (path ) state is not available" },
  { from: "Infura", code: -32600, message: "invalid json request" }
]

const label = (sample: Sample) => `${sample.from}: ${sample.code} ${sample.message.slice(0, 60)}`

describe("ProviderErrors.classify", () => {
  it("reads each recorded message as what it means", () => {
    for (const [samples, kind] of [[rateLimits, "RateLimited"], [rangeLimits, "RangeTooLarge"], [missingBlocks, "MissingBlock"], [finals, "Final"]] as const) {
      for (const sample of samples) assert.strictEqual(ProviderErrors.classify(sample.code, sample.message), kind, label(sample))
    }
  })

  const all = [
    ...rateLimits.map((sample) => [sample, "RateLimited"] as const),
    ...rangeLimits.map((sample) => [sample, "RangeTooLarge"] as const),
    ...missingBlocks.map((sample) => [sample, "MissingBlock"] as const),
    ...finals.map((sample) => [sample, "Final"] as const)
  ]
  it.prop(
    "reads a message the same whatever its letter case",
    { index: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: all.length - 1 })), upper: Schema.Array(Schema.Boolean) },
    ({ index, upper }) => {
      const [sample, kind] = all[index]!
      const cased = Array.from(sample.message, (char, at) => upper[at % Math.max(1, upper.length)] ? char.toUpperCase() : char.toLowerCase()).join("")
      return ProviderErrors.classify(sample.code, cased) === kind
    }
  )
})

layer(seededChain({ rounds: 5 }), { excludeTestServices: true, timeout: 120_000 })("provider errors through a proxy", (it) => {
  for (const sample of rateLimits) {
    it.effect(`rate limit, paused and retried elsewhere: ${label(sample)}`, () =>
      Effect.gen(function*() {
        const chain = yield* DevChain.DevChain
        const proxy = yield* FaultProxy.make(chain.url, { providerError: sample, providerErrorTimes: 1 })
        // a failure counted against the circuit would open it at once
        const evm = yield* client(devChainConfig([{ url: proxy.url, rateLimitedPause: "1 hour" }, chain.url], {
          breaker: { failures: 1, openDuration: "1 hour" },
          // no request time limit: a request timed out on a loaded machine is sent again, and the test counts them
          requestTimeout: "1 hour"
        }))
        assert.strictEqual(yield* evm.request("net_version"), "31337")
        assert.strictEqual(proxy.counts.providerError, 1)
        // paused: the next requests go to the other endpoint
        for (let index = 0; index < 5; index++) yield* evm.request("net_version")
        assert.strictEqual(proxy.counts.requests, 1)
        assert.deepStrictEqual((yield* evm.health).map((endpoint) => endpoint.circuit), ["Closed", "Closed"])
      }))
  }

  it.effect("rate limits on the only endpoint: the request waits out the pause and succeeds", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const proxy = yield* FaultProxy.make(chain.url, { providerError: rateLimits[0]!, providerErrorTimes: 3 })
      const evm = yield* client(devChainConfig([{ url: proxy.url, rateLimitedPause: "5 millis" }], {
        breaker: { failures: 1, openDuration: "1 hour" }
      }))
      assert.strictEqual(yield* evm.request("net_version"), "31337")
      assert.strictEqual(proxy.counts.providerError, 3)
    }))

  for (const sample of rangeLimits) {
    it.effect(`range too large, shrunk: ${label(sample)}`, () =>
      Effect.gen(function*() {
        const chain = yield* DevChain.DevChain
        const seeded = yield* Seeded
        const proxy = yield* FaultProxy.make(chain.url, { maxLogRange: 8, rangeError: sample })
        const direct = yield* client(devChainConfig([chain.url]))
        const evm = yield* client(devChainConfig([proxy.url], { logRange: { initial: 1000, max: 1000 } }))
        const filter = { topics: [transferTopic], fromBlock: 0, toBlock: seeded.toBlock }
        assert.deepStrictEqual(yield* evm.getLogs(filter), yield* direct.getLogs(filter))
        assert.isAbove(proxy.counts.rangeRejected, 0)
        assert.isBelow(yield* evm.logRange, 1000)
      }))
  }

  for (const sample of missingBlocks) {
    it.effect(`missing block, retried: ${label(sample)}`, () =>
      Effect.gen(function*() {
        const chain = yield* DevChain.DevChain
        const seeded = yield* Seeded
        const proxy = yield* FaultProxy.make(chain.url, {
          providerError: sample,
          providerErrorMethod: "eth_getBlockByNumber",
          providerErrorTimes: 2
        })
        const direct = yield* client(devChainConfig([chain.url]))
        const evm = yield* client(devChainConfig([proxy.url]))
        const numbers = [seeded.fromBlock, seeded.fromBlock + 1, seeded.toBlock]
        assert.deepStrictEqual(yield* evm.getBlocks(numbers), yield* direct.getBlocks(numbers))
        assert.strictEqual(proxy.counts.providerError, 2)
      }))
  }

  it.effect("a scan through a provider answering 30% of requests with -32005 \"limit exceeded\" finds exactly the seeded activity", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const seeded = yield* Seeded
      const proxy = yield* FaultProxy.make(chain.url, { providerError: rateLimits[0]!, providerErrorRate: 0.3 }, 7)
      const kinds = supervisor(ChainTasks.layer, [devChainConfig([{ url: proxy.url, rateLimitedPause: "1 millis" }])])
      const result = yield* Tasks.Tasks.use((tasks) =>
        tasks.run(ChainTasks.ScanAddresses, {
          chain: "dev",
          addresses: seeded.participants,
          fromBlock: seeded.fromBlock,
          toBlock: seeded.toBlock,
          chunkSize: 10
        })
      ).pipe(Effect.provide(kinds.pipe(Layer.provide(TaskStore.layerMemory))))
      assert.deepStrictEqual(
        result.activity.map(Activity.key),
        DevSeed.expectedFor(seeded, seeded.participants).map(Activity.key)
      )
      assert.isAbove(proxy.counts.providerError, 2)
    }))

  for (const sample of finals) {
    it.effect(`final, not retried: ${label(sample)}`, () =>
      Effect.gen(function*() {
        const chain = yield* DevChain.DevChain
        const proxy = yield* FaultProxy.make(chain.url, { providerError: sample, providerErrorRate: 1 })
        // no request time limit: a request timed out on a loaded machine is sent again, and the test counts them
        const evm = yield* client(devChainConfig([proxy.url, chain.url], { requestTimeout: "1 hour" }))
        const error = yield* Effect.flip(evm.request("eth_getBlockByNumber", ["0x1", false]))
        assert.deepInclude(error.reason, { _tag: "JsonRpc", code: sample.code, detail: sample.message })
        assert.strictEqual(proxy.counts.requests, 1)
      }))
  }
})
