/**
 * The fast encoder of flat payloads (`internal/flatPayload.ts`): which
 * Schemas it takes, and — over values that fit and values that do not — the
 * payload encoding a kind's codec answers with it is Schema's own, value for
 * value and refusal for refusal.
 */
import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import * as codec from "../src/internal/codec.ts"
import { flatEncoder } from "../src/internal/flatPayload.ts"
import * as Task from "../src/Task.ts"

const Flat = Schema.Struct({ n: Schema.Number, s: Schema.String, b: Schema.Boolean })
const Kind = Task.define("flat", { payload: Flat, success: Schema.Void })
const schemaEncode = Schema.encodeUnknownExit(Schema.toCodecJson(Flat))

/** Values near a flat payload: fitting ones (with excess keys or not), mistyped or missing fields, non-finite numbers, other shapes. */
const Near = Schema.Union([
  Flat,
  Schema.Struct({ n: Schema.Number, s: Schema.String, b: Schema.Boolean, extra: Schema.Unknown }),
  Schema.Struct({ n: Schema.Unknown, s: Schema.Unknown, b: Schema.Unknown }),
  Schema.Struct({ n: Schema.Number, s: Schema.String }),
  Schema.Record(Schema.String, Schema.Unknown),
  Schema.Unknown
])

describe("the fast encoder of flat payloads", () => {
  it("takes a struct of required strings, numbers and booleans only", () => {
    assert.isDefined(flatEncoder(Flat))
    assert.isDefined(flatEncoder(Schema.Struct({})))
    assert.isUndefined(flatEncoder(Schema.Struct({ n: Schema.Int })))
    assert.isUndefined(flatEncoder(Schema.Struct({ s: Schema.optionalKey(Schema.String) })))
    assert.isUndefined(flatEncoder(Schema.Struct({ d: Schema.Date })))
    assert.isUndefined(flatEncoder(Schema.Struct({ inner: Flat })))
    assert.isUndefined(flatEncoder(Schema.Struct({ l: Schema.Literal("a") })))
    assert.isUndefined(flatEncoder(Schema.Record(Schema.String, Schema.String)))
    assert.isUndefined(flatEncoder(Schema.String))
  })

  it.prop(
    "gives a kind's codec Schema's encoding of every value, or Schema's refusal",
    { value: Near, n: Schema.Literals(["as generated", "NaN", "Infinity", "-Infinity", "-0"]), bare: Schema.Boolean },
    ({ bare, n, value: generated }) => {
      // a plain copy (the generator may make objects without a prototype) or one without a prototype; `n` made one
      // of the numbers the JSON codec writes as strings, or -0 (kept)
      let value: unknown = generated
      if (typeof generated === "object" && generated !== null && !Array.isArray(generated)) {
        value = bare ? Object.assign(Object.create(null), generated) : { ...generated }
        if (n !== "as generated") (value as { n: number }).n = Number(n)
      }
      const ours = codec.forKind(Kind).encodePayload(value)
      const schemas = schemaEncode(value)
      assert.strictEqual(ours._tag, schemas._tag)
      if (Exit.isSuccess(ours) && Exit.isSuccess(schemas)) {
        assert.deepStrictEqual(ours.value, schemas.value)
        assert.deepStrictEqual(Object.keys(ours.value as object), Object.keys(schemas.value as object))
        assert.isTrue(Object.is((ours.value as { n: unknown }).n, (schemas.value as { n: unknown }).n))
      }
    }
  )

  it("leaves a value with a field inherited or of another prototype to Schema", () => {
    const encode = flatEncoder(Flat)!
    const inherited = Object.create({ n: 1 })
    Object.assign(inherited, { s: "", b: true })
    assert.isUndefined(encode(inherited))
    class Payload {
      n = 1
      s = ""
      b = true
    }
    assert.isUndefined(encode(new Payload()))
    assert.deepStrictEqual(encode({ b: true, s: "x", n: 2, more: [] }), { n: 2, s: "x", b: true })
  })
})
