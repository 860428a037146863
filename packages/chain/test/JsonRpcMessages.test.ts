/**
 * The JSON-RPC messages themselves (`internal/jsonRpc.ts`), without a node:
 * how calls are written (one as an object, several as a batch, each a
 * JSON-RPC 2.0 message numbered from the first id), how a batch answer is
 * read (by id, whatever its order and whatever else it holds; a call it does
 * not answer, or answers with neither result nor error, named by its id), and that only
 * a node's JSON-RPC error is read as a spent budget or a missing block — a
 * body that is no JSON-RPC answer stays an `InvalidResponse`, whatever its
 * text says; a node's error text (message, data) is bounded, its start kept.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ChainRequestError, InvalidResponse, JsonRpc as JsonRpcReason } from "../src/ChainRequestError.ts"
import * as JsonRpc from "../src/internal/jsonRpc.ts"

const endpoint = "http://node.test"

const invalid = (detail: string) => new ChainRequestError({ reason: new InvalidResponse({ endpoint, detail }) })
const rpcError = (code: number, detail: string) => new ChainRequestError({ reason: new JsonRpcReason({ endpoint, code, detail }) })

describe("JSON-RPC messages", () => {
  it("one call is written as a JSON-RPC 2.0 object, several as a batch numbered from the first id", () => {
    assert.deepStrictEqual(JSON.parse(JsonRpc.encode([{ method: "eth_chainId", params: [] }], 7)), {
      jsonrpc: "2.0",
      id: 7,
      method: "eth_chainId",
      params: []
    })
    assert.deepStrictEqual(JSON.parse(JsonRpc.encode([{ method: "a", params: [1] }, { method: "b", params: ["x"] }], 7)), [
      { jsonrpc: "2.0", id: 7, method: "a", params: [1] },
      { jsonrpc: "2.0", id: 8, method: "b", params: ["x"] }
    ])
  })

  it.effect("a batch answer is read by id, in call order, past entries that are no answer (null, numbers, texts)", () =>
    Effect.gen(function*() {
      const body = JSON.stringify([null, 42, "x", { jsonrpc: "2.0", id: 9, result: "c" }, { jsonrpc: "2.0", id: 7, result: "a" }, {
        jsonrpc: "2.0",
        id: 8,
        result: null
      }])
      assert.deepStrictEqual(yield* JsonRpc.decode(endpoint, body, 3, 7), ["a", null, "c"])
    }))

  it.effect("a batch answer lacking a call's answer, or answering it with neither result nor error, is an InvalidResponse naming that call's id", () =>
    Effect.gen(function*() {
      const first = { jsonrpc: "2.0", id: 7, result: "a" }
      const missing = yield* Effect.flip(JsonRpc.decode(endpoint, JSON.stringify([first]), 2, 7))
      assert.deepInclude(missing.reason, { _tag: "InvalidResponse", detail: "no answer to call 8" })
      const empty = yield* Effect.flip(JsonRpc.decode(endpoint, JSON.stringify([first, { jsonrpc: "2.0", id: 8 }]), 2, 7))
      assert.deepInclude(empty.reason, { _tag: "InvalidResponse", detail: "answer 8 has no result" })
    }))

  it.effect("a body that is not JSON is an InvalidResponse quoting only its first 80 characters", () =>
    Effect.gen(function*() {
      const body = `${"x".repeat(80)}TAIL`
      const error = yield* Effect.flip(JsonRpc.decode(endpoint, body, 1, 1))
      assert.deepInclude(error.reason, { _tag: "InvalidResponse", detail: `not JSON: ${"x".repeat(80)}` })
    }))

  it.effect("a node's error text is kept whole up to its bound and cut past it, saying how much more there was", () =>
    Effect.gen(function*() {
      const answer = (error: unknown) => JSON.stringify({ jsonrpc: "2.0", id: 1, error })
      const reasonOf = (error: unknown) => Effect.map(Effect.flip(JsonRpc.decode(endpoint, answer(error), 1, 1)), (failure) => failure.reason)
      const atBound = "m".repeat(JsonRpc.maxDetailChars)
      const revert = { selector: "0x08c379a0", bytes: "ab".repeat(100) }
      assert.deepInclude(yield* reasonOf({ code: 3, message: atBound, data: revert }), { _tag: "JsonRpc", code: 3, detail: atBound, data: revert })
      const shortData = "d".repeat(JsonRpc.maxDataChars)
      assert.deepInclude(yield* reasonOf({ code: 3, message: "reverted", data: shortData }), { detail: "reverted", data: shortData })
      // A node answering megabytes: the start of each, and the count of what was left out.
      const huge = yield* reasonOf({ code: -32000, message: `${atBound}TAIL${"x".repeat(2_000_000)}`, data: "y".repeat(JsonRpc.maxDataChars + 5) })
      assert.deepInclude(huge, {
        detail: `${atBound}… (${2_000_004} more characters)`,
        data: `${"y".repeat(JsonRpc.maxDataChars)}… (5 more characters)`
      })
      // Data whose JSON is exactly the bound is kept as it is, an object as an object.
      const exact = { blob: "z".repeat(JsonRpc.maxDataChars - JSON.stringify({ blob: "" }).length) }
      assert.strictEqual(JSON.stringify(exact).length, JsonRpc.maxDataChars)
      assert.deepInclude(yield* reasonOf({ code: 3, message: "reverted", data: exact }), { data: exact })
      assert.isUndefined(((yield* reasonOf({ code: 3, message: "no data" })) as JsonRpcReason).data)
      const object = yield* reasonOf({ code: -32000, message: "big", data: { blob: "z".repeat(JsonRpc.maxDataChars) } })
      const json = JSON.stringify({ blob: "z".repeat(JsonRpc.maxDataChars) })
      assert.deepInclude(object, { data: `${json.slice(0, JsonRpc.maxDataChars)}… (${json.length - JsonRpc.maxDataChars} more characters)` })
      // Numbers, booleans and null are short whatever they are; a message that is no text is the error's JSON.
      assert.deepInclude(yield* reasonOf({ code: 1, message: 5, data: null }), { detail: JSON.stringify({ code: 1, message: 5, data: null }), data: null })
      assert.deepInclude(yield* reasonOf({ code: 1, message: "n", data: 12 }), { data: 12 })
    }))

  it.effect("a cut never splits a character written as two (an emoji): it is kept whole or left out whole", () =>
    Effect.gen(function*() {
      const answer = (error: unknown) => JSON.stringify({ jsonrpc: "2.0", id: 1, error })
      const reasonOf = (error: unknown) => Effect.map(Effect.flip(JsonRpc.decode(endpoint, answer(error), 1, 1)), (failure) => failure.reason)
      const before = "m".repeat(JsonRpc.maxDetailChars - 1)
      assert.deepInclude(yield* reasonOf({ code: -32000, message: `${before}😀tail`, data: `${"d".repeat(JsonRpc.maxDataChars - 1)}😀` }), {
        detail: `${before}… (6 more characters)`,
        data: `${"d".repeat(JsonRpc.maxDataChars - 1)}… (2 more characters)`
      })
      // ending just after the emoji, it is kept
      assert.deepInclude(yield* reasonOf({ code: -32000, message: `${before.slice(1)}😀tail` }), { detail: `${before.slice(1)}😀… (4 more characters)` })
      // the first and the last character written as two (U+10000: D800 DC00; U+10FFFF: DBFF DFFF), cut between halves
      for (const pair of ["\u{10000}", "\u{10FFFF}"]) {
        assert.deepInclude(yield* reasonOf({ code: -32000, message: `${before}${pair}` }), { detail: `${before}… (2 more characters)` }, pair)
      }
      // nor is a character next to them (U+D7FF, U+DC00: no first half) taken for one
      for (const single of ["\uD7FF", "\uDC00"]) {
        assert.deepInclude(yield* reasonOf({ code: -32000, message: `${before}${single}x` }), { detail: `${before}${single}… (1 more characters)` }, single)
      }
      const notJson = yield* Effect.flip(JsonRpc.decode(endpoint, `${"x".repeat(79)}😀TAIL`, 1, 1))
      assert.deepInclude(notJson.reason, { _tag: "InvalidResponse", detail: `not JSON: ${"x".repeat(79)}` })
    }))

  it("only a node's JSON-RPC error is read as a spent budget or a missing block: a text that says so is not one", () => {
    for (const detail of ["not JSON: Too many requests", "not JSON: rate limit", "not JSON: header not found", "not JSON: block 5 not found"]) {
      const error = invalid(detail)
      assert.isFalse(JsonRpc.isRateLimitAnswer(error), detail)
      assert.strictEqual(JsonRpc.missingBlock(error), error, detail)
    }
    assert.isTrue(JsonRpc.isRateLimitAnswer(rpcError(-32000, "Too many requests")))
    assert.isFalse(JsonRpc.isRateLimitAnswer(rpcError(-32000, "header not found")))
    const missing = JsonRpc.missingBlock(rpcError(-32000, "header not found"))
    assert.deepInclude(missing.reason, { _tag: "MissingBlock", endpoint, code: -32000, detail: "header not found" })
    const other = rpcError(3, "execution reverted")
    assert.strictEqual(JsonRpc.missingBlock(other), other)
  })
})
