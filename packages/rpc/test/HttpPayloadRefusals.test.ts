/**
 * The two refusals of a request's payload over HTTP, one example each: a
 * payload its RPC's Schema does not take passes the door (the Schema is
 * lenient) and the call fails with `MalformedRequest` (problem `payload`,
 * naming the RPC and the bad field) from the validation middleware, served
 * with 200 like any answer; a payload nested past the access rules' depth
 * limit is refused whole at the door with 400 (not 413: it is not too large)
 * and the typed `TaskAccessError` of reason `PayloadTooDeep`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { overHttp, requestLine, serve } from "./localServer.ts"

describe("a request's payload refused over HTTP", () => {
  it.live("a payload its Schema does not take fails the call with MalformedRequest payload, naming the RPC and the field", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const answer = yield* overHttp(port, requestLine("Get", { id: 1 }))
      assert.strictEqual(answer.status, 200)
      const exit = answer.body.find((message) => message._tag === "Exit")?.exit
      assert.strictEqual(exit?._tag, "Failure", JSON.stringify(answer.body))
      const error = exit.cause[0].error
      assert.deepInclude(error, { _tag: "MalformedRequest", problem: "payload", rpc: "Get" })
      assert.include(error.detail, "id")
    }).pipe(Effect.scoped))

  it.live("a payload nested past maxDepth is refused whole with 400 and PayloadTooDeep", () =>
    Effect.gen(function*() {
      const port = yield* serve({ payloadLimit: { maxBytes: 1_000_000, maxDepth: 2 } })
      const refused = yield* overHttp(port, requestLine("Get", { id: [[["deep"]]] }))
      assert.strictEqual(refused.status, 400)
      assert.strictEqual(refused.body[0]._tag, "TaskAccessError")
      // the measure stops at the first level past the limit, which it names
      assert.deepStrictEqual(refused.body[0].reason, { _tag: "PayloadTooDeep", depth: 3, limit: 2 })
    }).pipe(Effect.scoped))
})
