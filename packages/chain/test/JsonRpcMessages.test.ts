/**
 * The JSON-RPC messages themselves (`internal/jsonRpc.ts`), without a node:
 * how calls are written (one as an object, several as a batch, each a
 * JSON-RPC 2.0 message numbered from the first id), how a batch answer is
 * read (by id, whatever its order and whatever else it holds; a call it does
 * not answer, or answers with neither result nor error, named by its id), and that only
 * a node's JSON-RPC error is read as a spent budget or a missing block — a
 * body that is no JSON-RPC answer stays an `InvalidResponse`, whatever its
 * text says.
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
