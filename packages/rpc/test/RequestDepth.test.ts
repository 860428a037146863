/**
 * The payload depth limit at its edge, over both transports of a real
 * server: a payload nested exactly `maxDepth` levels passes the door (its
 * RPC answers it), one level more is refused with `PayloadTooDeep` naming
 * `maxDepth + 1` and the limit — over HTTP a 400 with the typed error, over
 * WebSocket the call's typed failure, the socket left open (`Frames.RefusedCall`).
 * For a submission the limit holds for the task payload it carries, as over
 * REST; its line nests too deep to be parsed safely, so over WebSocket it
 * closes the socket with 1008 and the error in the reason.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { overHttp, overWebsocket, requestLine, serve } from "./localServer.ts"

/** A value nested exactly `levels` deep: each level an array or an object (as `shape` says, cyclically), with a shallow sibling, around `leaf`. */
const nested = (levels: number, shape: ReadonlyArray<boolean>, leaf: string): unknown => {
  let value: unknown = leaf
  for (let i = 0; i < levels; i++) {
    value = shape.length > 0 && shape[i % shape.length] ? { v: value, s: leaf } : [leaf, value]
  }
  return value
}

/** The error of an `Exit` answer line. */
const exitError = (answer: any) => {
  assert.strictEqual(answer?._tag, "Exit", JSON.stringify(answer))
  assert.strictEqual(answer.exit._tag, "Failure", JSON.stringify(answer))
  return answer.exit.cause[0].error
}

const Depth = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10 }))

describe("the payload depth limit over the transports", () => {
  it.live.prop(
    "a payload of exactly maxDepth levels passes the door; one level more is refused naming maxDepth + 1",
    { maxDepth: Depth, shape: Schema.Array(Schema.Boolean), leaf: Schema.String },
    ({ leaf, maxDepth, shape }) =>
      Effect.gen(function*() {
        const port = yield* serve({ payloadLimit: { maxBytes: 1_000_000, maxDepth } })
        const tooDeep = { _tag: "PayloadTooDeep", depth: maxDepth + 1, limit: maxDepth }
        const closeReason = `TaskAccessError: the payload nests ${maxDepth + 1} levels deep; at most ${maxDepth} are accepted`
        // An RPC's own payload (`Get` takes `{ id }`: a nested one passes the door and fails its Schema).
        const atLimit = requestLine("Get", nested(maxDepth, shape, leaf))
        const http = yield* overHttp(port, atLimit)
        assert.strictEqual(http.status, 200)
        assert.strictEqual(exitError(http.body.find((m) => m._tag === "Exit"))._tag, "MalformedRequest")
        assert.strictEqual(exitError((yield* overWebsocket(port, [atLimit], 1)).answers[0])._tag, "MalformedRequest")
        const overLimit = requestLine("Get", nested(maxDepth + 1, shape, leaf))
        const refused = yield* overHttp(port, overLimit)
        assert.strictEqual(refused.status, 400)
        assert.deepStrictEqual(refused.body[0].reason, tooDeep)
        const alone = yield* overWebsocket(port, [overLimit], 1)
        assert.isUndefined(alone.code)
        assert.deepStrictEqual(exitError(alone.answers[0]).reason, tooDeep)
        // A submission's task payload (`add` takes `{ a, b }`: a nested one is an invalid payload of the kind).
        for (const tag of ["Submit", "Run"]) {
          const submitted = requestLine(tag, { kind: "add", payload: nested(maxDepth, shape, leaf) })
          assert.strictEqual(exitError((yield* overHttp(port, submitted)).body.find((m) => m._tag === "Exit"))._tag, "InvalidPayload")
          assert.strictEqual(exitError((yield* overWebsocket(port, [submitted], 1)).answers[0])._tag, "InvalidPayload")
          const deeper = requestLine(tag, { kind: "add", payload: nested(maxDepth + 1, shape, leaf) })
          const refusedSubmission = yield* overHttp(port, deeper)
          assert.strictEqual(refusedSubmission.status, 400)
          assert.deepStrictEqual(refusedSubmission.body[0].reason, tooDeep)
          assert.deepStrictEqual(yield* overWebsocket(port, [deeper]), { answers: [], code: 1008, reason: closeReason })
        }
      }).pipe(Effect.scoped),
    { timeout: 60_000, arbitrary: { runs: 12 } }
  )
})
