/**
 * An endpoint that answers for another chain is never used: every endpoint
 * is asked `eth_chainId` before its first call (one question however many
 * first calls wait for it, under the endpoint's rate limit) and again after
 * its circuit opened; another chain's endpoint is passed over and held out,
 * and with every endpoint wrong a request, a task or a follower fails with
 * `WrongChain` before anything is read. On a real Hardhat node configured
 * with the wrong id, and on scripted endpoints for answers of every
 * encoding, a provider switching networks while its circuit is open, and a
 * provider whose errors open the circuit (the error then names what it said).
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Tasks, TaskStore } from "@chainjobs/tasks"
import { DevChain } from "@chainjobs/devchain"
import { Effect, Exit, Fiber, Layer, Option, Schedule, Schema } from "effect"
import * as ChainId from "../src/ChainId.ts"
import * as ChainTasks from "../src/ChainTasks.ts"
import { Chains } from "../src/Chains.ts"
import { layerMemory as feedLayer } from "../src/BlockFeed.ts"
import type { ChainRequestError } from "../src/ChainRequestError.ts"
import { client, devChainConfig, supervisor } from "./fixtures.ts"
import * as ScriptedNode from "./ScriptedNode.ts"

/** No time limit on a request: a loaded machine can hold a scripted answer past any, and the tests count requests. */
const untimed = { requestTimeout: "1 hour" } as const

/** A scripted endpoint answering `eth_chainId` with `chainId()` (read at each question) and every other call with its first parameter; it counts the questions. */
const nodeOf = (chainId: () => unknown) =>
  Effect.gen(function*() {
    let questions = 0
    const node = yield* ScriptedNode.make((calls, batch) => {
      const answers = calls.map((call) => {
        if (call.method !== "eth_chainId") return ScriptedNode.result(call, call.params[0])
        questions++
        return ScriptedNode.result(call, chainId())
      })
      return { body: batch ? answers : answers[0] }
    }, { chainId: "scripted" })
    return { node, questions: () => questions }
  })

const reasonOf = (error: ChainRequestError) => error.reason

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("the chain id of a real node", (it) => {
  it.effect("a real node of another chain fails every request with WrongChain, before any call is sent", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const evm = yield* client({ ...devChainConfig([chain.url]), name: "mainnet", chainId: 1 })
      const error = yield* Effect.flip(evm.request("eth_blockNumber"))
      assert.deepStrictEqual({ ...reasonOf(error) }, {
        _tag: "WrongChain",
        chain: "mainnet",
        endpoint: chain.url,
        expected: 1,
        reported: String(DevChain.chainId)
      })
      assert.strictEqual(error.message, `${chain.url}: answers for chain id 31337, not mainnet's 1; kept out of use`)
      // the question was the only request, counted as the endpoint's failure; the next request sends nothing
      assert.deepInclude((yield* evm.health)[0], { requests: 1, failures: 1, circuit: "Closed" })
      assert.strictEqual((yield* Effect.flip(evm.getBlocks([0]))).reason._tag, "WrongChain")
      assert.deepInclude((yield* evm.health)[0], { requests: 1, failures: 1 })
    }))

  it.effect("a task on a chain configured with the wrong id fails with WrongChain and processes nothing", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const config = { ...devChainConfig([chain.url]), chainId: 1 }
      const exit = yield* Tasks.Tasks.use((tasks) => tasks.run(ChainTasks.FetchBlocks, { chain: "dev", fromBlock: 0, toBlock: 3 })).pipe(
        Effect.exit,
        Effect.provide(supervisor(ChainTasks.layer, [config]).pipe(Layer.provide(TaskStore.layerMemory)))
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "answers for chain id 31337, not dev's 1")
      // a follower stops before its first block, saying why (no checkpoint saved, no progress reported)
      const checkpoints: Array<unknown> = []
      const context = {
        taskId: "follow",
        attempt: 1,
        heartbeat: Effect.void,
        progress: () => Effect.sync(() => checkpoints.push("progress")),
        checkpoint: (state: unknown) => Effect.sync(() => checkpoints.push(state)),
        lastCheckpoint: Effect.succeed(Option.none())
      }
      const evm = yield* client(config)
      const chains = Chains.of({
        names: Effect.succeed(["dev"]),
        client: () => Effect.succeed(evm),
        connect: () => Effect.succeed(evm),
        disconnect: () => Effect.void
      })
      const follower = yield* Effect.forkChild(
        ChainTasks.followHead({ chain: "dev", fromBlock: 0, pollMillis: 10 }, context as never).pipe(
          Effect.provideService(Chains, chains),
          Effect.provide(feedLayer)
        )
      )
      const followed = yield* Fiber.await(follower)
      assert.include(String(followed), "answers for chain id 31337, not dev's 1")
      assert.deepStrictEqual(checkpoints, [])
    }))
})

describe("the chain id of an endpoint", () => {
  it.live("of two endpoints, the first of another chain: the second serves, the first is asked once and kept out", () =>
    Effect.gen(function*() {
      const testnet = yield* nodeOf(() => "0x5")
      const right = yield* nodeOf(() => "0x7a69")
      const evm = yield* client(devChainConfig([testnet.node.url, right.node.url], { ...untimed, breaker: { openDuration: "1 hour" } }))
      for (let index = 0; index < 5; index++) assert.strictEqual(yield* evm.request("echo", [index]), index)
      assert.deepStrictEqual([testnet.node.requests(), testnet.questions()], [1, 1])
      assert.deepStrictEqual([right.node.requests(), right.questions()], [6, 1])
      const [first, second] = yield* evm.health
      assert.deepInclude(first, { requests: 1, failures: 1 })
      assert.deepInclude(second, { requests: 6, failures: 0 })
    }))

  it.live("concurrent first calls wait for one question", () =>
    Effect.gen(function*() {
      const { node, questions } = yield* nodeOf(() => "0x7a69")
      const evm = yield* client(devChainConfig([node.url], untimed))
      const answers = yield* Effect.forEach(Array.from({ length: 8 }, (_, index) => index), (index) => evm.request("echo", [index]), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(answers, [0, 1, 2, 3, 4, 5, 6, 7])
      assert.strictEqual(questions(), 1)
      assert.strictEqual(node.requests(), 9)
    }))

  it.live("the question takes its turn under the endpoint's rate limit", () =>
    Effect.gen(function*() {
      const { node } = yield* nodeOf(() => "0x7a69")
      // one request an hour: the question spends it, and the call must wait
      const evm = yield* client(devChainConfig([{ url: node.url, rateLimit: { limit: 1, window: "1 hour" } }], untimed))
      const call = yield* Effect.forkChild(evm.request("echo", [1]))
      yield* Effect.suspend(() => node.requests() > 0 ? Effect.void : Effect.fail("not yet")).pipe(
        Effect.retry({ schedule: Schedule.spaced("10 millis") }), // until the question came: the test's timeout bounds the wait
        Effect.orDie
      )
      yield* Effect.sleep("200 millis")
      assert.deepStrictEqual(node.received.map((calls) => calls.map((call) => call.method)), [["eth_chainId"]])
      assert.isUndefined(call.pollUnsafe(), "the call went out though the question had spent the budget")
      yield* Fiber.interrupt(call)
    }))

  it.live("an endpoint that switched networks while its circuit was open is asked again, and passed over", () =>
    Effect.gen(function*() {
      let down = false
      let chainId = "0x7a69"
      let questions = 0
      let served = 0
      const switching = yield* ScriptedNode.make((calls) => {
        if (down) return { status: 503, body: "down" }
        if (calls[0]!.method === "eth_chainId") {
          questions++
          return { body: ScriptedNode.result(calls[0]!, chainId) }
        }
        served++
        return { body: ScriptedNode.result(calls[0]!, "switching") }
      }, { chainId: "scripted" })
      const spare = yield* nodeOf(() => "0x7a69")
      const evm = yield* client(devChainConfig([switching.url, spare.node.url], {
        ...untimed,
        retry: { times: 0 },
        breaker: { failures: 1, openDuration: "200 millis" }
      }))
      assert.strictEqual(yield* evm.request("echo", [1]), "switching")
      assert.strictEqual(questions, 1)
      // one failure opens its circuit; the spare answers meanwhile
      down = true
      assert.strictEqual(yield* evm.request("echo", [2]), 2)
      chainId = "0x5"
      down = false
      // once the circuit may close, its probe asks the chain id first: another chain's, so the spare answers
      yield* Effect.sleep("250 millis")
      assert.strictEqual(yield* evm.request("echo", [3]), 3)
      assert.strictEqual(questions, 2)
      for (let index = 4; index < 8; index++) assert.strictEqual(yield* evm.request("echo", [index]), index)
      assert.strictEqual(served, 1, "an endpoint found on another chain served a call")
    }))

  it.live("with every endpoint's circuit open, the error names the provider's failure that opened one", () =>
    Effect.gen(function*() {
      const lagging = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.error(calls[0]!.id, -32000, "header not found") }))
      const evm = yield* client(devChainConfig([lagging.url], {
        ...untimed,
        // the third attempt finds the circuit open: a retry after it would wait for the circuit's hour
        retry: { times: 2, base: "1 millis", max: "1 millis" },
        breaker: { failures: 2, openDuration: "1 hour" }
      }))
      const error = yield* Effect.flip(evm.request("eth_getBlockByNumber", ["0x10", false]))
      const reason = reasonOf(error)
      assert.strictEqual(reason._tag, "Unavailable")
      const lastFailure = reason._tag === "Unavailable" ? reason.lastFailure : undefined
      assert.strictEqual(lastFailure, `${lagging.url}: block not there yet (JSON-RPC error -32000: header not found)`)
      assert.include(error.message, `every endpoint's circuit is open`)
      assert.include(error.message, `the last failure: ${lagging.url}: block not there yet (JSON-RPC error -32000: header not found)`)
      assert.strictEqual(lagging.requests(), 2)
    }))
})

/** A chain id as a JSON-RPC quantity: `0x` or `0X`, any leading zeros, each digit in either case. */
const encodings = Schema.Struct({
  id: Schema.BigInt.check(Schema.isGreaterThanOrEqualToBigInt(0n), Schema.isLessThanBigInt(2n ** 256n)),
  zeros: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })),
  upper: Schema.Array(Schema.Boolean),
  prefix: Schema.Literals(["0x", "0X"])
})

const encode = ({ id, prefix, upper, zeros }: typeof encodings.Type) => {
  const digits = ("0".repeat(zeros) + id.toString(16)).slice(-64)
  return prefix + [...digits].map((digit, index) => upper[index % Math.max(1, upper.length)] ? digit.toUpperCase() : digit).join("")
}

describe("the answers to eth_chainId", () => {
  it.prop("every encoding of an id reads as that id", { encoded: encodings }, ({ encoded }) => {
    assert.strictEqual(ChainId.parse(encode(encoded)), encoded.id)
  })

  it.prop(
    "an answer that is not a hex quantity names no chain",
    {
      answer: Schema.Union([
        Schema.Null,
        Schema.Number,
        Schema.Boolean,
        Schema.String,
        Schema.Array(Schema.String)
      ])
    },
    ({ answer }) => {
      // a random text is a quantity by chance only; the encodings are the property above
      if (typeof answer === "string" && /^0[xX][0-9a-fA-F]{1,64}$/.test(answer)) return
      assert.isUndefined(ChainId.parse(answer))
    }
  )

  it.live.prop(
    "through a client: an id matches in any encoding, another id is WrongChain, a malformed answer is a provider failure",
    {
      encoded: encodings,
      malformed: Schema.Literals(["null", 31337, "0x", "7a69", "0x7g69", "0x 7a69", `0x${"0".repeat(61)}7a69`, "error"])
    },
    ({ encoded, malformed }) =>
      Effect.gen(function*() {
        const { node } = yield* nodeOf(() => encode(encoded))
        const config = devChainConfig([node.url], { ...untimed, retry: { times: 0 } })
        const same = yield* client({ ...config, chainId: Number(BigInt.asUintN(53, encoded.id)) })
        const answered = yield* Effect.result(same.request("echo", ["served"]))
        if (encoded.id < 2n ** 53n) assert.deepStrictEqual(answered._tag === "Success" ? answered.success : answered.failure.reason._tag, "served")
        else assert.strictEqual(answered._tag === "Failure" ? answered.failure.reason._tag : "served", "WrongChain")
        const other = yield* client({ ...config, chainId: Number(BigInt.asUintN(53, encoded.id + 1n)) })
        assert.strictEqual((yield* Effect.flip(other.request("echo", ["served"]))).reason._tag, "WrongChain")
        const garbled = yield* ScriptedNode.make((calls) =>
          calls[0]!.method !== "eth_chainId"
            ? { body: ScriptedNode.result(calls[0]!, "served") }
            : { body: malformed === "error" ? ScriptedNode.error(calls[0]!.id, -32601, "no such method") : ScriptedNode.result(calls[0]!, malformed === "null" ? null : malformed) }, {
          chainId: "scripted"
        })
        const failure = yield* Effect.flip((yield* client(devChainConfig([garbled.url], { ...untimed, retry: { times: 0 } }))).request("echo", ["served"]))
        assert.deepInclude(failure.reason, { _tag: "InvalidResponse", endpoint: garbled.url })
        assert.strictEqual(garbled.requests(), 1)
      }),
    { timeout: 60_000, arbitrary: { runs: 15 } }
  )
})
