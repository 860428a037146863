/**
 * The EVM client's reads against a scripted endpoint: `eth_getLogs` ranges
 * halving down to `logRange.min` (a rejection there is final) and growing up
 * to `logRange.max`, the filter sent as given; a block or receipt answered
 * null named in its error; a failed head read not cached; and a range of
 * blocks that does not link up refused as read during a reorganization.
 * Then the edges of a live provider: an endpoint refusing connections (its
 * node down) passed over for the next, and alone a transient `Network`
 * error; an `eth_getLogs` error that is not about the range failing at once,
 * the range kept; blocks read as hashes unless transactions are asked for;
 * a sent transaction's hash as the node answers it; `batchConcurrency`
 * batches in flight at once; and a circuit-breaker store that fails letting
 * requests through, with health reading the circuit closed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import { createServer } from "node:net"
import { numberToHex } from "viem"
import { client, devChainConfig } from "./fixtures.ts"
import * as ScriptedNode from "./ScriptedNode.ts"
import { isTransient } from "../src/ChainRequestError.ts"
import * as EvmClient from "../src/EvmClient.ts"

const hash = (n: number, fork = 0): `0x${string}` => `0x${(fork * 1_000_000 + n).toString(16).padStart(64, "0")}`

/** A block as a node sends it, its parent the block before it on the same fork. */
const rpcBlock = (n: number, fork = 0, parentFork = fork) => ({
  number: numberToHex(n),
  hash: hash(n, fork),
  parentHash: n === 0 ? hash(0, 99) : hash(n - 1, parentFork),
  timestamp: numberToHex(1_700_000_000 + n),
  gasLimit: "0x1c9c380",
  gasUsed: "0x0",
  miner: `0x${"00".repeat(20)}`,
  extraData: "0x",
  transactions: [],
  uncles: []
})

/** A log of block `n`, as a node sends it. */
const rpcLog = (n: number) => ({
  address: `0x${"aa".repeat(20)}`,
  blockHash: hash(n),
  blockNumber: numberToHex(n),
  data: "0x",
  logIndex: "0x0",
  removed: false,
  topics: [hash(7)],
  transactionHash: hash(n, 5),
  transactionIndex: "0x0"
})

interface Range {
  readonly from: number
  readonly to: number
}

/** A node with one log in every block, refusing `eth_getLogs` over more than `limit` blocks as Alchemy does. */
const logNode = (limit: number) => {
  const asked: Array<Range> = []
  const filters: Array<Record<string, unknown>> = []
  const script: ScriptedNode.Script = (calls) => {
    const call = calls[0]!
    const filter = call.params[0] as { fromBlock: string; toBlock: string }
    const range = { from: Number(filter.fromBlock), to: Number(filter.toBlock) }
    asked.push(range)
    filters.push(filter)
    if (range.to - range.from + 1 > limit) {
      return { body: ScriptedNode.error(call.id, -32600, `You can make eth_getLogs requests with up to a ${limit} block range.`) }
    }
    return { body: ScriptedNode.result(call, Array.from({ length: range.to - range.from + 1 }, (_, index) => rpcLog(range.from + index))) }
  }
  return { asked, filters, script }
}

const sizes = (ranges: ReadonlyArray<Range>) => ranges.map((range) => range.to - range.from + 1)

// the log-range tests count the ranges asked: no request time limit (a request timed out on a loaded machine, or
// under a mutation run's instrumentation, is asked again)
describe("EvmClient reads", () => {
  it.live("an eth_getLogs range halves down to logRange.min, where a rejection is final", () =>
    Effect.gen(function*() {
      const logs = logNode(2)
      const node = yield* ScriptedNode.make(logs.script)
      const evm = yield* client(devChainConfig([node.url], { requestTimeout: "1 hour", logRange: { initial: 16, min: 3, max: 64 } }))
      const error = yield* Effect.flip(evm.getLogs({ fromBlock: 0, toBlock: 99 }))
      assert.isTrue(EvmClient.isRangeTooLarge(error))
      assert.deepStrictEqual(sizes(logs.asked), [16, 8, 4, 3])
      assert.strictEqual(yield* evm.logRange, 3)
    }))

  it.live("a range grows by doubling after each query of the whole range, up to logRange.max; every block is read once", () =>
    Effect.gen(function*() {
      const logs = logNode(1000)
      const node = yield* ScriptedNode.make(logs.script)
      const evm = yield* client(devChainConfig([node.url], { requestTimeout: "1 hour", logRange: { initial: 3, min: 1, max: 10 } }))
      const found = yield* evm.getLogs({ fromBlock: 5, toBlock: 60 })
      assert.deepStrictEqual(found.map((log) => Number(log.blockNumber)), Array.from({ length: 56 }, (_, index) => 5 + index))
      assert.deepStrictEqual(sizes(logs.asked), [3, 6, 10, 10, 10, 10, 7])
      assert.deepStrictEqual(logs.asked.map((range) => range.from), [5, 8, 14, 24, 34, 44, 54])
      assert.strictEqual(yield* evm.logRange, 10)
      // a query cut short by the filter's end proves nothing about the range: it does not grow
      const short = yield* client(devChainConfig([node.url], { requestTimeout: "1 hour", logRange: { initial: 4, min: 1, max: 100 } }))
      yield* short.getLogs({ fromBlock: 0, toBlock: 5 })
      assert.strictEqual(yield* short.logRange, 8)
    }))

  it.live("a range halves after a rejection, not below logRange.min, and the blocks are read from where it stopped", () =>
    Effect.gen(function*() {
      const logs = logNode(5)
      const node = yield* ScriptedNode.make(logs.script)
      const evm = yield* client(devChainConfig([node.url], { requestTimeout: "1 hour", logRange: { initial: 12, min: 1, max: 100 } }))
      const found = yield* evm.getLogs({ fromBlock: 0, toBlock: 9 })
      assert.deepStrictEqual(found.map((log) => Number(log.blockNumber)), Array.from({ length: 10 }, (_, index) => index))
      // 12 (the 10 blocks there are) and 6 refused, then 3 at a time: 6, refused, is not asked again before
      // `ceilingRetryAfter` whole ranges in a row were accepted below it; the last block alone
      assert.deepStrictEqual(sizes(logs.asked), [10, 6, 3, 3, 3, 1])
      assert.deepStrictEqual(logs.asked.map((range) => range.from), [0, 0, 0, 3, 6, 9])
      assert.isAbove(EvmClient.ceilingRetryAfter, 3)
    }))

  it.live("a range of logRange.min 0 still advances a block at a time", () =>
    Effect.gen(function*() {
      const logs = logNode(1)
      const node = yield* ScriptedNode.make(logs.script)
      const evm = yield* client(devChainConfig([node.url], { requestTimeout: "1 hour", logRange: { initial: 0, min: 0, max: 1 } }))
      assert.strictEqual((yield* evm.getLogs({ fromBlock: 1, toBlock: 3 })).length, 3)
      assert.deepStrictEqual(sizes(logs.asked), [1, 1, 1])
    }))

  it.live("the filter's address and topics are sent as given, and left out when not given", () =>
    Effect.gen(function*() {
      const logs = logNode(1000)
      const node = yield* ScriptedNode.make(logs.script)
      const evm = yield* client(devChainConfig([node.url]))
      const address = `0x${"bb".repeat(20)}` as const
      yield* evm.getLogs({ address, topics: [hash(7), null, [hash(1), hash(2)]], fromBlock: 1, toBlock: 2 })
      yield* evm.getLogs({ fromBlock: 1, toBlock: 2 })
      assert.deepStrictEqual(logs.filters, [
        { address, topics: [hash(7), null, [hash(1), hash(2)]], fromBlock: "0x1", toBlock: "0x2" },
        { fromBlock: "0x1", toBlock: "0x2" }
      ])
    }))

  it.live("a block or receipt the node answers null for fails naming it, as a transient InvalidResponse", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make((calls, batch) => {
        const answers = calls.map((call) =>
          ScriptedNode.result(call, call.method === "eth_getBlockByNumber" && Number(call.params[0]) !== 9 ? rpcBlock(Number(call.params[0])) : null)
        )
        return { body: batch ? answers : answers[0] }
      })
      const evm = yield* client(devChainConfig([node.url], { retry: { times: 0 } }))
      assert.deepStrictEqual((yield* evm.getBlocks([1, 2, 3])).map((block) => Number(block.number)), [1, 2, 3])
      const missing = yield* Effect.flip(evm.getBlocks([8, 9]))
      assert.deepInclude(missing.reason, { _tag: "InvalidResponse", detail: "block 9 not found" })
      assert.isTrue(isTransient(missing))
      const receipt = yield* Effect.flip(evm.getReceipts([hash(3)]))
      assert.deepInclude(receipt.reason, { _tag: "InvalidResponse", detail: `receipt of ${hash(3)} not found` })
    }))

  it.live("a head read that failed is not cached: the next read asks again", () =>
    Effect.gen(function*() {
      let reads = 0
      const node = yield* ScriptedNode.make((calls) =>
        reads++ === 0 ? { status: 503, body: "down" } : { body: ScriptedNode.result(calls[0]!, "0x2a") }
      )
      const evm = yield* client(devChainConfig([node.url], { retry: { times: 0 }, headTtl: "1 hour" }))
      assert.strictEqual((yield* Effect.flip(evm.head)).reason._tag, "HttpStatus")
      assert.strictEqual(yield* evm.head, 42)
      assert.strictEqual(yield* evm.head, 42)
      assert.strictEqual(node.requests(), 2)
    }))

  it.live("linked blocks: a range whose blocks do not link up is refused as read during a reorganization", () =>
    Effect.gen(function*() {
      // block 4 is on another fork than block 3
      const node = yield* ScriptedNode.make((calls, batch) => {
        const answers = calls.map((call) => {
          const n = Number(call.params[0])
          return ScriptedNode.result(call, n === 4 ? rpcBlock(4, 1, 1) : rpcBlock(n))
        })
        return { body: batch ? answers : answers[0] }
      })
      const evm = yield* client(devChainConfig([node.url], { retry: { times: 0 } }))
      const linked = yield* EvmClient.getLinkedBlocks(evm, 1, 3)
      assert.deepStrictEqual(linked.map((block) => Number(block.number)), [1, 2, 3])
      const error = yield* Effect.flip(EvmClient.getLinkedBlocks(evm, 2, 5))
      assert.deepInclude(error.reason, {
        _tag: "InvalidResponse",
        detail: "block 4 is not the child of block 3 as read: the chain reorganized while the range was read"
      })
    }))
})

/** The URL of a port on 127.0.0.1 nothing listens on: every connection to it is refused, as to a node that is down. */
const refusingUrl = Effect.callback<string>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(`http://127.0.0.1:${port}`)))
  })
})

describe("EvmClient at a live provider's edges", () => {
  it.live("an endpoint that refuses connections is passed over for the next; alone, it fails as a transient Network error", () =>
    Effect.gen(function*() {
      const down = yield* refusingUrl
      const node = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.result(calls[0]!, "0x7a69") }))
      const evm = yield* client(devChainConfig([down, node.url], { retry: { times: 0 } }))
      assert.strictEqual(yield* evm.request("eth_blockNumber"), "0x7a69")
      const alone = yield* client(devChainConfig([down], { retry: { times: 0 } }))
      const error = yield* Effect.flip(alone.request("eth_blockNumber"))
      assert.strictEqual(error.reason._tag, "Network")
      assert.isTrue(isTransient(error))
      assert.match(error.message, new RegExp(`^${down}: .*ECONNREFUSED`))
    }))

  it.live("an eth_getLogs error that is not about the range fails at once, the range kept", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make((calls) => ({
        body: ScriptedNode.error(calls[0]!.id, -32602, "invalid argument 0: hex string has leading zero digits")
      }))
      const evm = yield* client(devChainConfig([node.url], { requestTimeout: "1 hour", logRange: { initial: 16, min: 1, max: 64 } }))
      const error = yield* Effect.flip(evm.getLogs({ fromBlock: 0, toBlock: 99 }))
      assert.deepInclude(error.reason, { _tag: "JsonRpc", code: -32602 })
      assert.isFalse(EvmClient.isRangeTooLarge(error))
      assert.strictEqual(node.requests(), 1)
      assert.strictEqual(yield* evm.logRange, 16)
    }))

  it.live("an answer that is not JSON-RPC is no range verdict, whatever its text says: it fails, the range kept", () =>
    Effect.gen(function*() {
      // a body that is not JSON, in the words a node uses to refuse a range
      const node = yield* ScriptedNode.make(() => ({ body: "block range too large" }))
      const evm = yield* client(devChainConfig([node.url], { requestTimeout: "1 hour", logRange: { initial: 16, min: 1, max: 64 }, retry: { times: 0 } }))
      const error = yield* Effect.flip(evm.getLogs({ fromBlock: 0, toBlock: 99 }))
      assert.strictEqual(error.reason._tag, "InvalidResponse")
      assert.isFalse(EvmClient.isRangeTooLarge(error))
      assert.strictEqual(node.requests(), 1)
      assert.strictEqual(yield* evm.logRange, 16)
    }))

  it.live("blocks are read with their transactions' hashes unless their transactions are asked for", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make((calls, batch) => {
        const answers = calls.map((call) => ScriptedNode.result(call, rpcBlock(Number(call.params[0]))))
        return { body: batch ? answers : answers[0] }
      })
      const evm = yield* client(devChainConfig([node.url]))
      yield* evm.getBlocks([1, 2])
      yield* evm.getBlocks([3], { transactions: true })
      assert.deepStrictEqual(node.received.flat().map((call) => call.params), [["0x1", false], ["0x2", false], ["0x3", true]])
    }))

  it.live("a sent transaction's hash is the one the node answers", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.result(calls[0]!, hash(3, 5)) }))
      const evm = yield* client(devChainConfig([node.url]))
      assert.strictEqual(yield* evm.sendRawTransaction("0x02f86c"), hash(3, 5))
      assert.deepStrictEqual(node.received.flat().map((call) => [call.method, call.params]), [["eth_sendRawTransaction", ["0x02f86c"]]])
    }))

  it.live("block reads send batchConcurrency batches at once", () =>
    Effect.gen(function*() {
      // the node never answers: the batches sent before the first one times out are the ones in flight at once
      const node = yield* ScriptedNode.make(() => ({ body: null, stall: true }))
      const evm = yield* client(devChainConfig([node.url], {
        batchSize: 1,
        batchConcurrency: 2,
        requestTimeout: "1 second",
        retry: { times: 0 }
      }))
      const error = yield* Effect.flip(evm.getBlocks([1, 2]))
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(node.requests(), 2)
    }))

  it.live("a circuit-breaker store that fails lets requests through, and health reads the circuit as closed", () =>
    Effect.gen(function*() {
      const broken = Effect.fail(
        new CircuitBreaker.CircuitBreakerError({ reason: new CircuitBreaker.CircuitBreakerStoreError({ message: "store down" }) })
      )
      const store = CircuitBreaker.CircuitBreakerStore.of({ admit: () => broken, record: () => broken, state: () => broken })
      const stores = yield* Layer.build(Layer.mergeAll(
        RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory)),
        Layer.succeed(CircuitBreaker.CircuitBreakerStore, store)
      ))
      const node = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.result(calls[0]!, "0x7a69") }))
      const evm = yield* EvmClient.make(devChainConfig([node.url])).pipe(Effect.provideContext(stores))
      assert.strictEqual(yield* evm.request("eth_blockNumber"), "0x7a69")
      assert.deepStrictEqual((yield* evm.health).map((endpoint) => [endpoint.url, endpoint.circuit]), [[node.url, "Closed"]])
    }))
})
