/**
 * What a chain client makes of a node's answers, each scripted by an
 * endpoint on 127.0.0.1: a batch's answers matched to its calls whatever
 * their order; bodies that are not JSON, answers missing or without a
 * result, errors with a null id or odd fields; HTTP statuses (which are
 * retried, which are the node's verdict); how long a 429 pauses the endpoint
 * (`Retry-After` in seconds, as a date, absent or unreadable); a block the
 * node does not have yet; and every circuit open.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Schema } from "effect"
import { client, devChainConfig } from "./fixtures.ts"
import * as ScriptedNode from "./ScriptedNode.ts"

/** Answers every call with its first parameter. */
const echo: ScriptedNode.Script = (calls, batch) => {
  const answers = calls.map((call) => ScriptedNode.result(call, call.params[0]))
  return { body: batch ? answers : answers[0] }
}

/**
 * No time limit on a request (`devChainConfig`'s is 500 ms): a scripted endpoint answers at once, but a loaded
 * machine can hold an answer past any limit, and a timed-out request is sent again — the tests count requests.
 */
const untimed = { requestTimeout: "1 hour" } as const

/** A client of one scripted endpoint, retrying `times` times. */
const clientOf = (url: string, times: number, endpoint: { readonly rateLimitedPause?: Duration.Input } = {}) =>
  client(devChainConfig([{ url, ...endpoint }], { ...untimed, retry: { times } }))

/** The answers `script` gives to the first `failures` requests, then the echo. */
const failingFirst = (failures: number, script: ScriptedNode.Script): ScriptedNode.Script => {
  let seen = 0
  return (calls, batch) => ++seen <= failures ? script(calls, batch) : echo(calls, batch)
}

describe("a node's answers", () => {
  it.live.prop(
    "a batch's answers, in whatever order the node sends them, come back in call order",
    { keys: Schema.Array(Schema.Int).check(Schema.isBetweenLength(1, 120)), batchSize: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 60 })) },
    ({ batchSize, keys }) =>
      Effect.gen(function*() {
        // the node answers a batch sorted by the key of each call: any order the keys make
        const node = yield* ScriptedNode.make((calls, batch) => {
          const answers = calls.map((call) => ScriptedNode.result(call, call.params[0]))
            .sort((a, b) => keys[a.result as number]! - keys[b.result as number]!)
          return { body: batch ? answers : answers[0] }
        })
        const evm = yield* client(devChainConfig([node.url], { ...untimed, batchSize }))
        const calls = keys.map((_, index) => ({ method: "echo", params: [index] }))
        assert.deepStrictEqual(yield* evm.batch(calls), keys.map((_, index) => index))
        // batches of at most batchSize calls, each call sent once, one alone as an object rather than a batch
        assert.strictEqual(node.requests(), Math.ceil(keys.length / batchSize))
        assert.isTrue(node.received.every((calls) => calls.length <= batchSize))
        assert.deepStrictEqual(node.batches, node.received.map((calls) => calls.length > 1))
        assert.deepStrictEqual(node.received.flat().map((call) => call.params[0]).sort((a, b) => Number(a) - Number(b)), keys.map((_, index) => index))
        // every call of the client has an id of its own
        assert.strictEqual(new Set(node.received.flat().map((call) => call.id)).size, keys.length)
      }),
    { timeout: 60_000, arbitrary: { runs: 25 } }
  )

  it.live("an answer that is not JSON is an InvalidResponse quoting its start, and is retried", () =>
    Effect.gen(function*() {
      const page = `<html>${"bad gateway ".repeat(20)}</html>`
      const garbling = yield* ScriptedNode.make(() => ({ status: 200, body: page }))
      const error = yield* Effect.flip(((yield* clientOf(garbling.url, 2)).request("eth_blockNumber")))
      assert.strictEqual(error.reason._tag, "InvalidResponse")
      assert.strictEqual(error.message, `${garbling.url}: not JSON: ${page.slice(0, 80)}`)
      assert.strictEqual(garbling.requests(), 3)
      const recovering = yield* ScriptedNode.make(failingFirst(2, () => ({ body: page })))
      assert.strictEqual(yield* (yield* clientOf(recovering.url, 2)).request("echo", ["ok"]), "ok")
      assert.strictEqual(recovering.requests(), 3)
    }))

  it.live("a batch answer missing a call is an InvalidResponse naming the call", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make((calls) => ({ body: [ScriptedNode.result(calls[0]!, "first")] }))
      const error = yield* Effect.flip((yield* clientOf(node.url, 0)).batch([{ method: "echo", params: [1] }, { method: "echo", params: [2] }]))
      assert.strictEqual(error.reason._tag, "InvalidResponse")
      assert.strictEqual(error.message, `${node.url}: no answer to call ${node.received[0]![1]!.id}`)
    }))

  it.live("an error with a null id (the node could not read the request) is the node's verdict, not retried", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make(() => ({ body: ScriptedNode.error(null, -32700, "Parse error") }))
      const error = yield* Effect.flip((yield* clientOf(node.url, 3)).request("eth_blockNumber"))
      assert.deepInclude(error.reason, { _tag: "JsonRpc", code: -32700, detail: "Parse error" })
      assert.strictEqual(error.message, `${node.url}: JSON-RPC error -32700: Parse error`)
      assert.strictEqual(node.requests(), 1)
    }))

  it.live("an answer with neither result nor error is invalid, and a null result is a result", () =>
    Effect.gen(function*() {
      const empty = yield* ScriptedNode.make((calls) => ({ body: { jsonrpc: "2.0", id: calls[0]!.id } }))
      const error = yield* Effect.flip((yield* clientOf(empty.url, 0)).request("eth_getTransactionByHash", ["0x01"]))
      assert.strictEqual(error.reason._tag, "InvalidResponse")
      assert.strictEqual(error.message, `${empty.url}: answer ${empty.received[0]![0]!.id} has no result`)
      const nulls = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.result(calls[0]!, null) }))
      assert.isNull(yield* (yield* clientOf(nulls.url, 0)).request("eth_getTransactionByHash", ["0x01"]))
    }))

  it.live("a JSON-RPC error keeps its data, and one without a numeric code or a text message comes back whole", () =>
    Effect.gen(function*() {
      const reverting = yield* ScriptedNode.make((calls) => ({
        body: { jsonrpc: "2.0", id: calls[0]!.id, error: { code: 3, message: "execution reverted", data: "0x08c379a0" } }
      }))
      const reverted = yield* Effect.flip((yield* clientOf(reverting.url, 0)).request("eth_call"))
      assert.deepInclude(reverted.reason, { _tag: "JsonRpc", code: 3, detail: "execution reverted", data: "0x08c379a0" })
      const odd = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.error(calls[0]!.id, "E42", { text: "no" }) }))
      const error = yield* Effect.flip((yield* clientOf(odd.url, 0)).request("eth_call"))
      assert.deepInclude(error.reason, { _tag: "JsonRpc", code: 0, detail: JSON.stringify({ code: "E42", message: { text: "no" } }) })
    }))

  // a 408 or 5xx is the endpoint's trouble even when its body is a JSON-RPC error; a 4xx carrying one is the node's verdict;
  // an HttpStatus says what the body said (a JSON-RPC error's message, a text)
  const statuses = [
    { status: 408, body: ScriptedNode.error(1, -32000, "request timed out"), retried: true, reason: "HttpStatus", said: "request timed out" },
    { status: 500, body: ScriptedNode.error(1, -32603, "internal error"), retried: true, reason: "HttpStatus", said: "internal error" },
    { status: 503, body: "unavailable", retried: true, reason: "HttpStatus", said: "unavailable" },
    { status: 404, body: "not found", retried: false, reason: "HttpStatus", said: "not found" },
    { status: 403, body: "{\"message\":\"forbidden\"}", retried: false, reason: "HttpStatus", said: "{\"message\":\"forbidden\"}" },
    { status: 400, body: ScriptedNode.error(1, -32602, "invalid params"), retried: false, reason: "JsonRpc", said: "" }
  ] as const
  for (const { body, reason, retried, said, status } of statuses) {
    it.live(`HTTP ${status} ${retried ? "is retried" : "is final"}, as ${reason}`, () =>
      Effect.gen(function*() {
        const node = yield* ScriptedNode.make((calls) => ({
          status,
          body: typeof body === "string" ? body : { ...body, id: calls[0]!.id }
        }))
        const error = yield* Effect.flip((yield* clientOf(node.url, 2)).request("eth_blockNumber"))
        assert.strictEqual(error.reason._tag, reason)
        assert.strictEqual(error.message, reason === "HttpStatus" ? `${node.url}: HTTP ${status}: ${said}` : `${node.url}: JSON-RPC error -32602: invalid params`)
        assert.strictEqual(node.requests(), retried ? 3 : 1)
      }))
  }

  it.live("a 2xx status other than 200 carries the answer", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make((calls, batch) => ({ ...echo(calls, batch), status: 202 }))
      assert.strictEqual(yield* (yield* clientOf(node.url, 0)).request("echo", ["accepted"]), "accepted")
    }))

  /** The pause a 429 with these headers sets, as the client reports it and as the error says. */
  const pauseAfter = (headers: Record<string, string>) =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make(() => ({ status: 429, headers, body: "slow down" }))
      const evm = yield* clientOf(node.url, 0, { rateLimitedPause: "2 seconds" })
      const error = yield* Effect.flip(evm.request("eth_blockNumber"))
      assert.strictEqual(error.reason._tag, "RateLimited")
      const [health] = yield* evm.health
      return { error, pausedFor: health!.pausedForMillis, url: node.url }
    })

  it.live("a 429's Retry-After in seconds pauses the endpoint that long", () =>
    Effect.gen(function*() {
      const { error, pausedFor, url } = yield* pauseAfter({ "retry-after": "7" })
      assert.deepInclude(error.reason, { retryAfterMillis: 7000 })
      assert.strictEqual(error.message, `${url}: rate limited, retry after 7000 ms: slow down`)
      assert.isTrue(pausedFor > 5000 && pausedFor <= 7000, `paused for ${pausedFor} ms`)
    }))

  it.live("a 429's Retry-After as a date pauses the endpoint until then; a date past pauses it not at all", () =>
    Effect.gen(function*() {
      const later = yield* pauseAfter({ "retry-after": new Date(Date.now() + 3_600_000).toUTCString() })
      assert.isTrue(later.pausedFor > 3_500_000 && later.pausedFor <= 3_600_000, `paused for ${later.pausedFor} ms`)
      const past = yield* pauseAfter({ "retry-after": new Date(Date.now() - 60_000).toUTCString() })
      assert.deepInclude(past.error.reason, { retryAfterMillis: 0 })
      assert.strictEqual(past.pausedFor, 0)
    }))

  it.live("a 429 without a readable Retry-After pauses the endpoint for its rateLimitedPause", () =>
    Effect.gen(function*() {
      for (const headers of [{}, { "retry-after": "soon" }]) {
        const { error, pausedFor } = yield* pauseAfter(headers)
        assert.deepInclude(error.reason, { retryAfterMillis: 2000 })
        assert.isTrue(pausedFor > 1000 && pausedFor <= 2000, `paused for ${pausedFor} ms`)
      }
    }))

  it.live("a JSON-RPC error saying the budget is spent pauses the endpoint for its Retry-After", () =>
    Effect.gen(function*() {
      const node = yield* ScriptedNode.make((calls) => ({
        headers: { "retry-after": "3" },
        body: ScriptedNode.error(calls[0]!.id, -32005, "daily request count exceeded, request rate limited")
      }))
      const evm = yield* clientOf(node.url, 0)
      const error = yield* Effect.flip(evm.request("eth_blockNumber"))
      assert.deepInclude(error.reason, { _tag: "RateLimited", retryAfterMillis: 3000 })
      assert.isAbove((yield* evm.health)[0]!.pausedForMillis, 1000)
    }))

  it.live("a block the node does not have yet is MissingBlock, retried until it has it", () =>
    Effect.gen(function*() {
      const lagging = (calls: ReadonlyArray<ScriptedNode.Call>) => ({ body: ScriptedNode.error(calls[0]!.id, -32000, "header not found") })
      const never = yield* ScriptedNode.make(lagging)
      const error = yield* Effect.flip((yield* clientOf(never.url, 0)).request("eth_getBlockByNumber", ["0x10", false]))
      assert.deepInclude(error.reason, { _tag: "MissingBlock", code: -32000, detail: "header not found" })
      assert.strictEqual(error.message, `${never.url}: block not there yet (JSON-RPC error -32000: header not found)`)
      const catchingUp = yield* ScriptedNode.make(failingFirst(2, lagging))
      assert.strictEqual(yield* (yield* clientOf(catchingUp.url, 2)).request("echo", ["0x10"]), "0x10")
      assert.strictEqual(catchingUp.requests(), 3)
    }))

  it.live("with every circuit open a request fails as Unavailable, until one may close, without reaching a node", () =>
    Effect.gen(function*() {
      const down = (calls: ReadonlyArray<ScriptedNode.Call>) => ({ status: 503, body: calls.length })
      const first = yield* ScriptedNode.make(down)
      const second = yield* ScriptedNode.make(down)
      const evm = yield* client(devChainConfig([first.url, second.url], {
        ...untimed,
        retry: { times: 0 },
        breaker: { failures: 1, openDuration: "1 hour" }
      }))
      // the first request opens both circuits and fails as the last endpoint did
      const opened = yield* Effect.flip(evm.request("eth_blockNumber"))
      assert.deepInclude(opened.reason, { _tag: "HttpStatus", endpoint: second.url, status: 503 })
      const error = yield* Effect.flip(evm.request("eth_blockNumber"))
      assert.strictEqual(error.reason._tag, "Unavailable")
      const retryAfter = error.reason._tag === "Unavailable" ? error.reason.retryAfterMillis : 0
      assert.isTrue(retryAfter > 3_500_000 && retryAfter <= 3_600_000, `retry after ${retryAfter} ms`)
      // it names the failure that opened the last circuit, as the endpoint reported it
      assert.strictEqual(error.message, `dev: every endpoint's circuit is open, retry after ${retryAfter} ms; the last failure: ${second.url}: HTTP 503: 1`)
      assert.deepStrictEqual([first.requests(), second.requests()], [1, 1])
    }))
})
