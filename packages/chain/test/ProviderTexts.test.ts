/**
 * What a request's error says after a provider refused it: a 429 or a
 * JSON-RPC rate-limit error keeps the provider's words (real texts of
 * Infura, Alchemy, QuickNode, Base), an HTTP error status keeps the start of
 * its body (JSON-RPC error, HTML page, plain text) — on one line, bounded,
 * without the endpoint's key, from scripted endpoints on 127.0.0.1; a body
 * that never ends is not waited for once its head is in. Hostile bodies
 * (huge, binary, nested JSON, any unicode) as properties of `said`.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Schema } from "effect"
import * as EndpointLabel from "../src/EndpointLabel.ts"
import * as JsonRpc from "../src/internal/jsonRpc.ts"
import { maxErrorBodyBytes } from "../src/internal/httpConnection.ts"
import { client, devChainConfig } from "./fixtures.ts"
import * as ScriptedNode from "./ScriptedNode.ts"

/** Provider texts as they were seen (in issue reports of projects using them). */
const infura = "daily request count exceeded, request rate limited"
const alchemy = "Your app has exceeded its compute units per second capacity. If you have retries enabled, you can safely " +
  "ignore this message. If not, check out https://docs.alchemy.com/reference/throughput"
const quicknode = "credits limited to 6000/sec"
const base = "over rate limit"

/** A client of one scripted endpoint (reached at `url`), no retries, no time limit but `requestTimeout`. */
const clientOf = (url: string, options: { readonly times?: number; readonly requestTimeout?: Duration.Input } = {}) =>
  client(devChainConfig([url], {
    requestTimeout: options.requestTimeout ?? "1 hour",
    retry: { times: options.times ?? 0, base: "1 millis", max: "1 millis" },
    breaker: { failures: 100 }
  }))

/** The failure of one request to an endpoint answering every call by `answer`. */
const failureOf = (answer: (call: ScriptedNode.Call) => ScriptedNode.Answer, path = "", options: Parameters<typeof clientOf>[1] = {}) =>
  Effect.gen(function*() {
    const node = yield* ScriptedNode.make((calls) => answer(calls[0]!))
    const error = yield* Effect.flip((yield* clientOf(`${node.url}${path}`, options)).request("eth_blockNumber"))
    return { error, url: node.url, requests: node.requests() }
  })

/** A bounded, well-formed, one-line text. */
const assertShown = (text: string | undefined) => {
  if (text === undefined) return
  assert.isTrue(text.isWellFormed(), `lone surrogate in ${JSON.stringify(text)}`)
  assert.notMatch(text, /[\u0000-\u001f\u007f\ufffd]/)
  assert.isAtMost(text.length, JsonRpc.maxSaidChars + "… (9999999 more characters)".length)
}

describe("a provider's refusal, as the error tells it", () => {
  it.live("a 429 whose body is a JSON-RPC error keeps its message (Alchemy's, Infura's)", () =>
    Effect.gen(function*() {
      for (const [code, message] of [[429, alchemy], [-32005, infura]] as const) {
        const { error, url } = yield* failureOf((call) => ({
          status: 429,
          headers: { "retry-after": "1" },
          body: ScriptedNode.error(call.id, code, message)
        }))
        assert.deepStrictEqual({ ...error.reason }, { _tag: "RateLimited", endpoint: url, retryAfterMillis: 1000, detail: message })
        assert.strictEqual(error.message, `${url}: rate limited, retry after 1000 ms: ${message}`)
      }
    }))

  it.live("a JSON-RPC rate-limit error in a 200 keeps the provider's words (Infura's, QuickNode's, Base's)", () =>
    Effect.gen(function*() {
      for (const [code, message] of [[-32005, infura], [-32012, quicknode], [-32016, base]] as const) {
        const { error } = yield* failureOf((call) => ({ headers: { "retry-after": "0" }, body: ScriptedNode.error(call.id, code, message) }))
        assert.deepInclude(error.reason, { _tag: "RateLimited", detail: message })
        assert.include(error.message, `: ${message}`)
      }
    }))

  it.live("a 429 with a plain-text body keeps it; with none, says only that it was rate limited", () =>
    Effect.gen(function*() {
      const plain = yield* failureOf(() => ({ status: 429, headers: { "retry-after": "0" }, body: "Too Many Requests\n\tslow down " }))
      assert.deepInclude(plain.error.reason, { detail: "Too Many Requests slow down" })
      const empty = yield* failureOf(() => ({ status: 429, headers: { "retry-after": "0" }, body: "" }))
      assert.isFalse("detail" in empty.error.reason)
      assert.strictEqual(empty.error.message, `${empty.url}: rate limited, retry after 0 ms`)
    }))

  it.live("after repeated 503s the last failure keeps the body's start: an HTML page as its text", () =>
    Effect.gen(function*() {
      const page = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n" +
        "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
      const { error, requests, url } = yield* failureOf(() => ({ status: 503, headers: { "content-type": "text/html" }, body: page }), "", { times: 2 })
      assert.strictEqual(requests, 3)
      const said = "503 Service Temporarily Unavailable 503 Service Temporarily Unavailable nginx"
      assert.deepStrictEqual({ ...error.reason }, { _tag: "HttpStatus", endpoint: url, status: 503, detail: said })
      assert.strictEqual(error.message, `${url}: HTTP ${503}: ${said}`)
    }))

  it.live("a provider echoing the endpoint's key or URL is shown without them", () =>
    Effect.gen(function*() {
      const key = "9aa3d95b3bc440fa88ea12eaa4456161"
      const { error, url } = yield* failureOf(
        () => ({ status: 502, body: `project ${key} at ${"http"}://127.0.0.1/v3/${key}: upstream down` }),
        `/v3/${key}`
      )
      assert.deepInclude(error.reason, { endpoint: `${url}/v3/…`, detail: "project … at http://127.0.0.1/v3/…: upstream down" })
      assert.notInclude(JSON.stringify(error) + error.message, key)
    }))

  it.live("a node's JSON-RPC error echoing the endpoint's key is shown without it", () =>
    Effect.gen(function*() {
      const key = "9aa3d95b3bc440fa88ea12eaa4456161"
      const { error, url } = yield* failureOf(
        (call) => ({ body: ScriptedNode.error(call.id, -32000, `project ID ${key} is not allowed to call eth_blockNumber`) }),
        `/v3/${key}`
      )
      assert.deepInclude(error.reason, { _tag: "JsonRpc", endpoint: `${url}/v3/…`, detail: "project ID … is not allowed to call eth_blockNumber" })
      assert.notInclude(JSON.stringify(error) + error.message, key)
    }))

  it.live("an error status whose body never ends is not waited for once its head is in; only the head is kept", () =>
    Effect.gen(function*() {
      // the request's own timeout is far (20 s): the answer comes once the head is read, not at the timeout
      const { error } = yield* failureOf(
        () => ({ status: 503, body: Buffer.from("x".repeat(maxErrorBodyBytes + 100)), endless: true }),
        "",
        { requestTimeout: "20 seconds" }
      )
      assert.strictEqual(error.reason._tag, "HttpStatus", error.message)
      const detail = error.reason._tag === "HttpStatus" ? error.reason.detail : undefined
      assert.strictEqual(detail, `${"x".repeat(JsonRpc.maxSaidChars)}… (${maxErrorBodyBytes - JsonRpc.maxSaidChars} more characters)`)
    }), 60_000)

  it.live("binary and multi-byte bodies cut anywhere are shown as well-formed text", () =>
    Effect.gen(function*() {
      const bytes = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x01]), Buffer.from("😀".repeat(3000))])
      const { error } = yield* failureOf(() => ({ status: 500, body: bytes }))
      assert.strictEqual(error.reason._tag, "HttpStatus")
      assertShown(error.reason._tag === "HttpStatus" ? error.reason.detail : undefined)
    }))
})

describe("said, on hostile bodies", () => {
  /** Arrays nested `depth` deep around `inner`. */
  const nested = (depth: number, inner: string) => "[".repeat(depth) + inner + "]".repeat(depth)

  it.prop("any text is shown on one line, bounded, well-formed", { body: Schema.String }, ({ body }) => {
    assertShown(JsonRpc.said(body))
  })

  it.prop(
    "a JSON-RPC error's message is what is said, whatever it holds",
    { message: Schema.String, id: Schema.NullOr(Schema.Int) },
    ({ id, message }) => {
      const said = JsonRpc.said(JSON.stringify(ScriptedNode.error(id, -32005, message)))
      assert.strictEqual(said, JsonRpc.shown(message))
      assertShown(said)
    }
  )

  it("huge, deeply nested, and surrogate pairs across the cut", () => {
    assertShown(JsonRpc.said("a".repeat(5_000_000)))
    assertShown(JsonRpc.said(nested(100_000, "1")))
    assertShown(JsonRpc.said(JSON.stringify(ScriptedNode.error(1, -32005, nested(10_000, "{}")))))
    // the first and last characters written as two halves (U+10000: D800 DC00; U+10FFFF: DBFF DFFF) and an emoji
    for (const wide of ["\u{10000}", "\u{10FFFF}", "😀"]) {
      for (let pad = 0; pad < 4; pad++) assertShown(JsonRpc.said(`${"x".repeat(JsonRpc.maxSaidChars - 2 + pad)}${wide.repeat(4)}`))
    }
    assert.strictEqual(JsonRpc.said(" \u0000\r\n\t\ufffd "), undefined)
  })

  it.prop(
    "a key echoed anywhere in the text is never shown",
    {
      key: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{16,64}$/)),
      before: Schema.String,
      after: Schema.String,
      where: Schema.Literals(["path", "query", "user", "header"])
    },
    ({ after, before, key, where }) => {
      const url = { path: `https://node.example/v3/${key}`, query: `https://node.example/rpc?key=${key}`, user: `https://${key}@node.example/`, header: "https://node.example/" }[where]
      const headers = where === "header" ? { authorization: `Bearer ${key}` } : {}
      const said = JsonRpc.said(`${before}${key}${after}`, (text) => EndpointLabel.redact(text, url, headers))
      assert.notInclude(said ?? "", key)
    }
  )
})
