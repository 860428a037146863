/**
 * A lenient payload Schema (`lenient`): decoding takes any payload, a bad
 * one as a `Malformed` marker describing what is wrong; encoding (the
 * client's side) still refuses a value its Schema does not take, with that
 * Schema's own issue, so a caller's bad call fails before it is sent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import { Rpc } from "effect/rpc"
import { isLenient, lenient, Malformed } from "../src/internal/lenient.ts"
import { TaskRpcs } from "../src/TaskRpcs.ts"
import { WatchRpcs } from "../src/WatchRpcs.ts"

const ById = Schema.Struct({ id: Schema.String })

describe("lenient", () => {
  it("decodes a good payload to itself and a bad one to a Malformed naming the bad field", () => {
    const decode = Schema.decodeUnknownSync(lenient(ById))
    assert.deepStrictEqual(decode({ id: "a" }), { id: "a" })
    const bad = decode({ id: 1 }) as unknown
    assert.instanceOf(bad, Malformed)
    assert.include((bad as Malformed).description, "id")
    assert.isTrue(isLenient(lenient(ById)))
    assert.isFalse(isLenient(ById))
  })

  it("encodes a good value as its Schema does and refuses a bad one with the Schema's issue", () => {
    const encode = Schema.encodeUnknownExit(lenient(ById))
    assert.deepStrictEqual(encode({ id: "a" }), Exit.succeed({ id: "a" }))
    const refused = encode({ id: 1 })
    const plain = Schema.encodeUnknownExit(ById)({ id: 1 })
    assert.isTrue(Exit.isFailure(refused), "a bad value was encoded")
    assert.isTrue(Exit.isFailure(plain))
    assert.strictEqual(String(Exit.isFailure(refused) && refused.cause), String(Exit.isFailure(plain) && plain.cause))
  })

  it("decodes a request with no payload at all (a line without the field) to a Malformed, through the JSON codec too", () => {
    const decoded = Schema.decodeUnknownExit(Schema.toCodecJson(lenient(ById)))(undefined)
    assert.isTrue(Exit.isSuccess(decoded), String(Exit.isFailure(decoded) && decoded.cause))
    assert.instanceOf(Exit.isSuccess(decoded) && decoded.value, Malformed)
  })

  // RpcServer decodes a request's payload under the handlers' services, merged into the connection's context for
  // every request, unless the decoding resolved at once (an Exit): a lenient payload must always resolve at once.
  it("decodes and encodes at once, as an Exit, a good payload and a bad one alike", () => {
    const decode = Schema.decodeUnknownEffect(Schema.toCodecJson(lenient(ById)))
    const encode = Schema.encodeUnknownEffect(Schema.toCodecJson(lenient(ById)))
    for (const payload of [{ id: "a" }, { id: 1 }, null]) {
      const decoded = decode(payload)
      assert.isTrue(Exit.isExit(decoded), `the decoding of ${JSON.stringify(payload)} is pending`)
      assert.isTrue(Exit.isSuccess(decoded as Exit.Exit<unknown, unknown>))
    }
    assert.isTrue(Exit.isExit(encode({ id: "a" })), "the encoding is pending")
  })

  it("every lenient request payload of the package's groups decodes at once", () => {
    const samples: ReadonlyArray<unknown> = [{}, { id: "a" }, { kind: "noop", payload: { n: 1 } }, { after: "1" }, 7]
    const groups = [TaskRpcs, WatchRpcs] as ReadonlyArray<{ readonly requests: ReadonlyMap<string, Rpc.AnyWithProps> }>
    let lenientPayloads = 0
    for (const group of groups) {
      for (const [tag, rpc] of group.requests) {
        if (!isLenient(rpc.payloadSchema)) continue
        lenientPayloads++
        const decode = Schema.decodeUnknownEffect(Schema.toCodecJson(rpc.payloadSchema as Schema.Codec<unknown, unknown>))
        for (const payload of samples) assert.isTrue(Exit.isExit(decode(payload)), `${tag}'s decoding of ${JSON.stringify(payload)} is pending`)
      }
    }
    assert.isAbove(lenientPayloads, 10)
  })
})
