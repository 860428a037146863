/**
 * The payload limit's two measures agree with each other and with the plain
 * recursive depth of a JSON value, whatever its strings hold (brackets,
 * quotes, backslashes); both stop counting just past the limit; and the
 * limits are inclusive: a payload of exactly `maxBytes` bytes, or exactly
 * `maxDepth` levels, is accepted, one more is refused with what was found.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import * as PayloadLimit from "../src/PayloadLimit.ts"
import type { TaskAccessErrorReason } from "../src/TaskAccessError.ts"

/** The nesting depth of a JSON value, by recursion (the tests' values are small). */
const depth = (value: unknown): number =>
  value === null || typeof value !== "object"
    ? 0
    : 1 + Math.max(0, ...(Array.isArray(value) ? value : Object.values(value)).map(depth))

/** A JSON value nested `levels` arrays and objects deep, with a leaf `leaf`. */
const nested = (levels: number, leaf: unknown = 0): unknown => {
  let value = leaf
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { v: value }
  return value
}

/** A refusal's reason as a transport encodes it (its fields), or undefined. */
const plain = (reason: TaskAccessErrorReason | undefined): object | undefined =>
  reason === undefined ? undefined : JSON.parse(JSON.stringify(reason))

/** The reason a check refused with (its fields), or undefined if it accepted. */
const refusal = (limit: PayloadLimit.PayloadLimit, payload: unknown): any => {
  const exit = Effect.runSyncExit(PayloadLimit.check(limit, payload))
  if (Exit.isSuccess(exit)) return undefined
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  assert.isDefined(failure)
  return plain((failure as { readonly error: { readonly reason: TaskAccessErrorReason } }).error.reason)
}

const Limit = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 12 }))

describe("PayloadLimit", () => {
  it.prop("a value's depth and its JSON text's depth are its nesting depth, whatever its strings hold", {
    value: Schema.Json,
    text: Schema.String
  }, ({ text, value }) => {
    // Strings full of brackets, quotes and escapes, as keys and as values, must not count.
    for (const one of [value, [text, { [text]: value }], { [`${text}\\"[{`]: [value, `"]}${text}\\`] }]) {
      const expected = depth(one)
      assert.strictEqual(PayloadLimit.depthOf(one, 1000), expected)
      assert.strictEqual(PayloadLimit.textDepthOf(JSON.stringify(one), 1000), expected)
      assert.strictEqual(PayloadLimit.textDepthOf(JSON.stringify(one, null, 2), 1000), expected)
    }
  })

  it.prop("both measures count no further than just past the limit", { value: Schema.Json, limit: Limit, extra: Limit }, ({ extra, limit, value }) => {
    for (const one of [value, nested(limit + extra, value)]) {
      const expected = Math.min(depth(one), limit + 1)
      assert.strictEqual(PayloadLimit.depthOf(one, limit), expected)
      assert.strictEqual(PayloadLimit.textDepthOf(JSON.stringify(one), limit), expected)
    }
  })

  it.prop("a payload of exactly maxDepth levels is accepted; one level more is refused, naming both", { limit: Limit }, ({ limit }) => {
    const roomy = { maxBytes: 1_000_000, maxDepth: limit }
    assert.isUndefined(refusal(roomy, nested(limit)))
    assert.deepStrictEqual(refusal(roomy, nested(limit + 1)), { _tag: "PayloadTooDeep", depth: limit + 1, limit })
    // deeper still: counting stops just past the limit
    assert.deepStrictEqual(refusal(roomy, nested(limit + 50)), { _tag: "PayloadTooDeep", depth: limit + 1, limit })
  })

  it.prop("a payload of exactly maxBytes bytes of JSON is accepted; one byte more is refused, naming both", {
    text: Schema.String
  }, ({ text }) => {
    const payload = { text }
    const bytes = new TextEncoder().encode(JSON.stringify(payload)).length
    assert.isUndefined(refusal({ maxBytes: bytes, maxDepth: 32 }, payload))
    assert.deepStrictEqual(
      refusal({ maxBytes: bytes - 1, maxDepth: 32 }, payload),
      { _tag: "PayloadTooLarge", size: bytes, limit: bytes - 1 } as never
    )
  })

  it("sizes are counted in bytes of UTF-8, not characters; an absent payload counts as null", () => {
    // "é" is one character and two bytes: `"é"` is 4 bytes.
    assert.deepStrictEqual(refusal({ maxBytes: 3, maxDepth: 32 }, "é"), { _tag: "PayloadTooLarge", size: 4, limit: 3 })
    assert.isUndefined(refusal({ maxBytes: 4, maxDepth: 32 }, "é"))
    assert.isUndefined(refusal({ maxBytes: 4, maxDepth: 32 }, undefined))
    assert.deepStrictEqual(refusal({ maxBytes: 3, maxDepth: 32 }, undefined), { _tag: "PayloadTooLarge", size: 4, limit: 3 })
  })

  it("a too deep payload is refused as such before its size is looked at", () => {
    assert.strictEqual(refusal({ maxBytes: 1, maxDepth: 2 }, nested(3))?._tag, "PayloadTooDeep")
  })

  it.prop("scanText allows maxDepth levels plus the transport's envelope, and names the payload's own depth", {
    limit: Limit,
    envelope: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4 }))
  }, ({ envelope, limit }) => {
    const wrapped = (levels: number) => JSON.stringify(nested(envelope, nested(levels)))
    assert.isUndefined(PayloadLimit.scanText(limit, wrapped(limit), envelope))
    const refused = PayloadLimit.scanText(limit, wrapped(limit + 1), envelope)
    assert.deepStrictEqual(plain(refused?.reason), { _tag: "PayloadTooDeep", depth: limit + 1, limit })
    // without an envelope argument, none is allowed for
    if (envelope > 0) assert.isDefined(PayloadLimit.scanText(limit, wrapped(limit)))
  })

  it("scanText reads text that is not JSON without failing: only brackets outside strings count", () => {
    assert.isUndefined(PayloadLimit.scanText(1, `[ "[[[[" `))
    assert.isDefined(PayloadLimit.scanText(1, `[[ "]]]]" `))
    assert.isDefined(PayloadLimit.scanText(1, `[ "\\"" [`))
    assert.isUndefined(PayloadLimit.scanText(1, `[ "\\\\" ] [`))
  })

  it("the defaults are 64 KiB and 32 levels", () => {
    assert.deepStrictEqual(PayloadLimit.defaults, { maxBytes: 65536, maxDepth: 32 })
  })
})

describe("textDepthOf", () => {
  it("is the deepest nesting, also when a shallower part follows the deepest", () => {
    assert.strictEqual(PayloadLimit.textDepthOf(`[[[]],[]]`, 32), 3)
    assert.strictEqual(PayloadLimit.textDepthOf(`{"a":[{"b":{}}],"c":[],"d":{"e":1}}`, 32), 4)
    assert.strictEqual(PayloadLimit.depthOf(JSON.parse(`{"a":[{"b":{}}],"c":[],"d":{"e":1}}`), 32), 4)
  })
})
