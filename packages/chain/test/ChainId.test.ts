/**
 * `ChainId`'s check of an `eth_chainId` answer, called directly: the
 * configured id passes; another is `WrongChain` with both ids (not
 * transient); an answer that is no hex quantity (a list or a number whose
 * text reads as one, nothing at all, a long text) is a provider failure whose
 * detail quotes it, cut after 80 characters; and, through a client, an error
 * answer to the question is a provider failure naming what the node said.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import * as ChainConfig from "../src/ChainConfig.ts"
import * as ChainId from "../src/ChainId.ts"
import { isTransient } from "../src/ChainRequestError.ts"
import { client, devChainConfig } from "./fixtures.ts"
import * as ScriptedNode from "./ScriptedNode.ts"

const mainnet = ChainConfig.chain({ name: "mainnet", chainId: 1, endpoints: [] })
const { check } = ChainId.identity(mainnet)

/** The failure of checking `answer` at endpoint `e`, as reason and message. */
const refusal = (answer: unknown) =>
  Effect.map(Effect.flip(check("e", answer)), (error) => ({ reason: error.reason, message: error.message, transient: isTransient(error) }))

describe("ChainId", () => {
  it("a list or a number whose text reads as a hex quantity is no chain id", () => {
    assert.isUndefined(ChainId.parse(["0x1"]))
    assert.isUndefined(ChainId.parse([["0x7a69"]]))
    assert.isUndefined(ChainId.parse(1))
    assert.strictEqual(ChainId.parse("0x01"), 1n)
  })

  it.effect("the configured id passes; another is WrongChain, naming both, and not transient", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* Effect.exit(check("e", "0x1")), Exit.void)
      const wrong = yield* refusal("0x7A69")
      assert.deepStrictEqual({ ...wrong.reason }, { _tag: "WrongChain", chain: "mainnet", endpoint: "e", expected: 1, reported: "31337" })
      assert.strictEqual(wrong.message, "e: answers for chain id 31337, not mainnet's 1; kept out of use")
      assert.strictEqual(wrong.transient, false)
    }))

  it.effect("an answer that is no chain id is a transient provider failure quoting it, cut after 80 characters", () =>
    Effect.gen(function*() {
      const nothing = yield* refusal(undefined)
      assert.deepStrictEqual({ ...nothing.reason }, { _tag: "InvalidResponse", endpoint: "e", detail: "eth_chainId answered nothing, not a chain id" })
      assert.strictEqual(nothing.transient, true)
      assert.strictEqual((yield* refusal(["0x1"])).message, `e: eth_chainId answered ["0x1"], not a chain id`)
      // 80 characters of JSON are quoted whole; 81 are cut to 80 and an ellipsis
      const eighty = JSON.stringify("x".repeat(78))
      assert.strictEqual(eighty.length, 80)
      assert.strictEqual((yield* refusal("x".repeat(78))).message, `e: eth_chainId answered ${eighty}, not a chain id`)
      const longer = JSON.stringify("x".repeat(79))
      assert.strictEqual((yield* refusal("x".repeat(79))).message, `e: eth_chainId answered ${longer.slice(0, 80)}…, not a chain id`)
    }))

  it.effect("the quote is cut at a character's boundary: an emoji across the 80th character is left out whole", () =>
    Effect.gen(function*() {
      // the JSON text is a quote, 78 x and the emoji's two halves at its 80th and 81st characters
      const { message } = yield* refusal(`${"x".repeat(78)}😀`)
      assert.strictEqual(message, `e: eth_chainId answered "${"x".repeat(78)}…, not a chain id`)
      assert.isTrue(message.isWellFormed())
    }))

  it.effect.prop(
    "any answer that is no chain id is quoted as well-formed text of at most 80 characters and an ellipsis",
    { answer: Schema.Union([Schema.String, Schema.Array(Schema.String), Schema.Record(Schema.String, Schema.String)]) },
    ({ answer }) =>
      Effect.gen(function*() {
        if (ChainId.parse(answer) !== undefined) return
        const { message } = yield* refusal(answer)
        assert.isTrue(message.isWellFormed(), message)
        const quote = message.slice("e: eth_chainId answered ".length, -", not a chain id".length)
        assert.isAtMost(quote.length, 81, quote)
      })
  )

  it.effect("an answer nested too deep to write as JSON is a provider failure, not a defect", () =>
    Effect.gen(function*() {
      let list: unknown = []
      for (let depth = 0; depth < 100_000; depth++) list = [list]
      const deep = yield* refusal(list)
      assert.deepStrictEqual({ ...deep.reason }, {
        _tag: "InvalidResponse",
        endpoint: "e",
        detail: "eth_chainId answered a list nested too deep to quote, not a chain id"
      })
    }))

  it.live("an error answer to the question is a transient provider failure naming what the node said; the endpoint is not used", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make((calls) =>
        calls[0]!.method === "eth_chainId"
          ? { body: ScriptedNode.error(calls[0]!.id, -32601, "the method eth_chainId does not exist") }
          : { body: ScriptedNode.result(calls[0]!, "served") }, { chainId: "scripted" })
      const evm = yield* client(devChainConfig([node.url], { requestTimeout: "1 hour", retry: { times: 0 } }))
      const error = yield* Effect.flip(evm.request("echo", []))
      assert.deepStrictEqual({ ...error.reason }, {
        _tag: "InvalidResponse",
        endpoint: node.url,
        detail: `eth_chainId answered an error: ${node.url}: JSON-RPC error -32601: the method eth_chainId does not exist`
      })
      assert.isTrue(isTransient(error))
      assert.deepStrictEqual(node.received.map((calls) => calls.map((call) => call.method)), [["eth_chainId"]])
    }))
})
