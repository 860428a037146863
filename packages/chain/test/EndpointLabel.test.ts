/**
 * An endpoint is shown without what can hold its API key: its label keeps
 * the scheme, host, port and short path segments, and hides long path
 * segments, the query and the userinfo — in the label itself, and in what a
 * client shows of its endpoints (errors, health), on scripted endpoints
 * reached at URLs holding keys. Two endpoints of one host are told apart.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import * as EndpointLabel from "../src/EndpointLabel.ts"
import { client, devChainConfig } from "./fixtures.ts"
import * as ScriptedNode from "./ScriptedNode.ts"

/** A provider key as they come: 16 to 64 letters, digits, `-` and `_`. */
const Key = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{16,64}$/))

describe("EndpointLabel.label", () => {
  it("shows what names the provider and hides what can be a key", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161", "https://mainnet.infura.io/v3/…"],
      ["https://eth-mainnet.g.alchemy.com/v2/Zx4_kq9Yb2-Lm8Tr0Pq3Ws7Va1Nc5De", "https://eth-mainnet.g.alchemy.com/v2/…"],
      ["https://rpc.ankr.com/eth/0123456789abcdef0123456789abcdef", "https://rpc.ankr.com/eth/…"],
      ["https://x-y.quiknode.pro/0123456789abcdef0123456789abcdef01234567/", "https://x-y.quiknode.pro/…/"],
      ["https://node.example/rpc?apikey=short", "https://node.example/rpc?…"],
      ["https://user:secret@node.example:8443/", "https://…@node.example:8443/"],
      ["https://user@node.example/", "https://…@node.example/"],
      ["https://:secret@node.example/", "https://…@node.example/"],
      ["https://node.example/abcdefghijklmno/abcdefghijklmnop", "https://node.example/abcdefghijklmno/…"],
      ["http://127.0.0.1:8545", "http://127.0.0.1:8545"],
      ["http://127.0.0.1:8545/", "http://127.0.0.1:8545/"],
      ["http://127.0.0.1:8545?key=0123456789abcdef0123", "http://127.0.0.1:8545?…"],
      ["https://node.example/v1/rpc#fragment", "https://node.example/v1/rpc"],
      ["not a url 0123456789abcdef", "…"]
    ]
    for (const [url, shown] of cases) assert.strictEqual(EndpointLabel.label(url), shown, url)
  })

  it.prop(
    "a key in a path segment, the query or the userinfo is never in the label; the host always is",
    { key: Key, where: Schema.Literals(["path", "last", "query", "user", "password"]) },
    ({ key, where }) => {
      const url = {
        path: `https://node.example:8443/v3/${key}/rpc`,
        last: `https://node.example:8443/${key}`,
        query: `https://node.example:8443/rpc?token=${key}&x=1`,
        user: `https://${key}@node.example:8443/`,
        password: `https://u:${key}@node.example:8443/`
      }[where]
      const shown = EndpointLabel.label(url)
      assert.notInclude(shown, key, url)
      assert.include(shown, "https://")
      assert.include(shown, "node.example:8443")
    }
  )
})

describe("EndpointLabel.redact", () => {
  it("hides the URL, its userinfo, query values and long path segments, and header values, in what a provider said", () => {
    const url = "https://user1:secret@node.example/v3/9aa3d95b3bc440fa88ea12eaa4456161/eth?apikey=abc123&n=1"
    const headers = { authorization: "Bearer Zx4_kq9Yb2-Lm8Tr0Pq3Ws7Va1Nc5De", "x-api-key": "k-1234" }
    const text = `${url} user1 secret 9aa3d95b3bc440fa88ea12eaa4456161 abc123 Zx4_kq9Yb2-Lm8Tr0Pq3Ws7Va1Nc5De k-1234 ` +
      "apikey=abc123&n=1 Bearer v3 eth n=1 1"
    assert.strictEqual(EndpointLabel.redact(text, url, headers), "… user1 … … … … … … Bearer v3 eth n=1 1")
    // credentials of 6 characters are hidden, of 5 not (words); path segments of 16 are, of 15 not
    assert.strictEqual(EndpointLabel.redact("abcdef abcde", "https://abcdef:abcde@h/"), "… abcde")
    assert.strictEqual(
      EndpointLabel.redact("abcdefghijklmnop abcdefghijklmno", "https://h/abcdefghijklmnop/abcdefghijklmno"),
      "… abcdefghijklmno"
    )
    // a string that is no URL is hidden whole; a text without any of them is as it was
    assert.strictEqual(EndpointLabel.redact("at not-a-url-key!", "not-a-url-key!"), "at …")
    assert.strictEqual(EndpointLabel.redact("over rate limit", url, headers), "over rate limit")
  })
})

describe("EndpointLabel.labels", () => {
  it("numbers only the labels two endpoints share, by their place in the list", () => {
    assert.deepStrictEqual(
      EndpointLabel.labels([
        "https://a.example/v3/0123456789abcdef0123",
        "https://b.example",
        "https://a.example/v3/fedcba9876543210fedc"
      ]),
      ["https://a.example/v3/… #1", "https://b.example", "https://a.example/v3/… #3"]
    )
    assert.deepStrictEqual(EndpointLabel.labels(["https://a.example", "https://b.example"]), ["https://a.example", "https://b.example"])
  })
})

describe("a client's endpoints reached at URLs holding keys", () => {
  it.effect("its errors and its health show the labels, never the keys", () =>
    Effect.gen(function*() {
      const keyA = "9aa3d95b3bc440fa88ea12eaa4456161"
      const keyB = "Zx4_kq9Yb2-Lm8Tr0Pq3Ws7Va1Nc5De"
      const failing = yield* ScriptedNode.make(() => ({ status: 503, body: "unavailable" }))
      const answering = yield* ScriptedNode.make((calls) => ({ body: ScriptedNode.result(calls[0]!, "0x10") }))
      const evm = yield* client(devChainConfig([`${failing.url}/v3/${keyA}`, `${failing.url}/v3/${keyB}`, `${failing.url}/rpc?apikey=${keyB}`], {
        retry: { times: 0, base: "1 millis", max: "1 millis" }
      }))
      const exit = yield* Effect.exit(evm.request("eth_blockNumber"))
      assert.isTrue(Exit.isFailure(exit))
      const shown = JSON.stringify(exit) + String(exit)
      assert.notInclude(shown, keyA)
      assert.notInclude(shown, keyB)
      // the attempt ends with the last endpoint's failure, shown by its label
      assert.include(shown, `${failing.url}/rpc?…: HTTP 503`)
      const health = yield* evm.health
      assert.deepStrictEqual(health.map((endpoint) => endpoint.url), [`${failing.url}/v3/… #1`, `${failing.url}/v3/… #2`, `${failing.url}/rpc?…`])
      // the labels are only what is shown: each endpoint is still reached at its own URL, with its own circuit
      const served = yield* client(devChainConfig([`${failing.url}/v3/${keyA}`, `${answering.url}/v3/${keyB}`], {
        retry: { times: 0, base: "1 millis", max: "1 millis" },
        breaker: { failures: 1, openDuration: "1 hour" }
      }))
      assert.strictEqual(yield* served.request("eth_blockNumber"), "0x10")
      assert.deepStrictEqual((yield* served.health).map((endpoint) => endpoint.circuit), ["Open", "Closed"])
    }))
})
