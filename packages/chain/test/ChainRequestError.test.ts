/**
 * What a `ChainRequestError` tells its reader: a message naming the endpoint
 * (or chain) and the figures of its reason, and whether a retry may succeed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import {
  ChainRequestError,
  HttpStatus,
  InvalidResponse,
  isTransient,
  JsonRpc,
  MissingBlock,
  Network,
  PoolExhausted,
  RateLimited,
  Timeout,
  Unavailable,
  UnknownChain
} from "../src/ChainRequestError.ts"

const endpoint = "https://rpc.example"

/** Each reason, the message of its error, and whether it is retried. */
const cases = [
  [new Timeout({ endpoint, millis: 500 }), `${endpoint}: no answer within 500 ms`, true],
  [new RateLimited({ endpoint, retryAfterMillis: 1200 }), `${endpoint}: rate limited, retry after 1200 ms`, true],
  [new RateLimited({ endpoint, retryAfterMillis: 0, detail: "credits limited to 6000/sec" }), `${endpoint}: rate limited, retry after 0 ms: credits limited to 6000/sec`, true],
  [new HttpStatus({ endpoint, status: 503, detail: "no healthy upstream" }), `${endpoint}: HTTP 503: no healthy upstream`, true],
  [new HttpStatus({ endpoint, status: 502 }), `${endpoint}: HTTP 502`, true],
  [new HttpStatus({ endpoint, status: 500 }), `${endpoint}: HTTP 500`, true],
  [new HttpStatus({ endpoint, status: 499 }), `${endpoint}: HTTP 499`, false],
  [new HttpStatus({ endpoint, status: 409 }), `${endpoint}: HTTP 409`, false],
  [new HttpStatus({ endpoint, status: 408 }), `${endpoint}: HTTP 408`, true],
  [new HttpStatus({ endpoint, status: 407 }), `${endpoint}: HTTP 407`, false],
  [new Network({ endpoint, detail: "socket hang up" }), `${endpoint}: socket hang up`, true],
  [new InvalidResponse({ endpoint, detail: "not JSON: <html>" }), `${endpoint}: not JSON: <html>`, true],
  [
    new MissingBlock({ endpoint, code: -32000, detail: "header not found" }),
    `${endpoint}: block not there yet (JSON-RPC error -32000: header not found)`,
    true
  ],
  [new JsonRpc({ endpoint, code: -32601, detail: "method not found" }), `${endpoint}: JSON-RPC error -32601: method not found`, false],
  [new PoolExhausted({ endpoint, waitedMillis: 5000 }), `${endpoint}: no free connection after 5000 ms`, false],
  [new Unavailable({ chain: "mainnet", retryAfterMillis: 800 }), "mainnet: every endpoint's circuit is open, retry after 800 ms", true],
  [new UnknownChain({ chain: "nochain" }), "unknown chain nochain", false]
] as const

describe("ChainRequestError", () => {
  it("says what went wrong, where, with its figures; and which reasons a retry may cure", () => {
    for (const [reason, message, transient] of cases) {
      const error = new ChainRequestError({ reason })
      assert.strictEqual(error.message, message)
      assert.strictEqual(isTransient(error), transient, reason._tag)
    }
  })

  it.prop(
    "an HTTP status is retried when it is 408 or 5xx, and only then",
    { status: Schema.Int.check(Schema.isBetween({ minimum: 100, maximum: 599 })) },
    ({ status }) => {
      const error = new ChainRequestError({ reason: new HttpStatus({ endpoint, status }) })
      assert.strictEqual(isTransient(error), status === 408 || status >= 500, `HTTP ${status}`)
      assert.strictEqual(error.message, `${endpoint}: HTTP ${status}`)
    }
  )
})
