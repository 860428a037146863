/**
 * A lenient payload Schema (`lenient`): decoding takes any payload, a bad
 * one as a `Malformed` marker describing what is wrong; encoding (the
 * client's side) still refuses a value its Schema does not take, with that
 * Schema's own issue, so a caller's bad call fails before it is sent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import { isLenient, lenient, Malformed } from "../src/internal/lenient.ts"

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
})
