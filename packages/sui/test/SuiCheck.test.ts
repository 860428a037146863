/**
 * The connection check and the client's own failures on the stand-in node:
 * what the check sends and reports for a configured network, and a request
 * the SDK refuses before sending (a hostile id) as a typed failure.
 */
import { ChainRequestError } from "@chainjobs/chain"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as SuiAdapter from "../src/SuiAdapter.ts"
import * as SuiCheck from "../src/SuiCheck.ts"
import * as SuiStandIn from "./SuiStandIn.ts"

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("expected a failure")
  const found = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  assert.isDefined(found)
  return (found as { readonly error: E }).error
}

describe("SuiCheck on the stand-in node", () => {
  it.live("a configured network's check sends the two reads as the specification has them (no parameters), reports its first endpoint's URL, and a latency within the time that passed", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      node.addCheckpoint([])
      const started = Date.now()
      const result = yield* SuiCheck.checkNetwork(SuiStandIn.network([node.url], "sui-testnet"))
      const passed = Date.now() - started
      assert.deepInclude(result, { endpoint: node.url, chainIdentifier: "4c78adac", latestCheckpoint: SuiStandIn.firstCheckpoint + 1 })
      assert.isAtLeast(result.latencyMillis, 0)
      assert.isAtMost(result.latencyMillis, passed)
      // (a request retried after a timeout on a loaded machine is the same request)
      assert.deepStrictEqual([...new Set(node.requests.map((request) => JSON.stringify([request.method, request.params])))], [
        JSON.stringify(["sui_getChainIdentifier", []]),
        JSON.stringify(["sui_getLatestCheckpointSequenceNumber", []])
      ])
    }).pipe(Effect.scoped))
})

describe("a request the SDK refuses before sending", () => {
  it.live("a hostile owner id is an InvalidResponse naming the SDK's reason as it says it, with nothing sent; through the adapter, ChainFailed", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const client = yield* SuiStandIn.client(node.url)
      for (const owner of ["0xnot-an-address", `0x${"1".repeat(65)}`, "0x1; DROP TABLE"]) {
        const error = failureOf(yield* Effect.exit(client.use((rpc, signal) => rpc.getBalance({ owner, signal }))))
        assert.instanceOf(error, ChainRequestError.ChainRequestError)
        assert.deepStrictEqual(error.reason, new ChainRequestError.InvalidResponse({ endpoint: "sui", detail: "Invalid Sui address" }))
        const viaAdapter = failureOf(yield* Effect.exit(SuiAdapter.make(client).balance(owner, "native")))
        assert.strictEqual(viaAdapter.reason._tag, "ChainFailed")
        assert.include(viaAdapter.message, "Invalid Sui address")
      }
      assert.strictEqual(node.requests.length, 0)
    }).pipe(Effect.scoped))
})
