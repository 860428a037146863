/**
 * Which `Authorization` headers carry a bearer token, and which token: the
 * scheme in any case, any whitespace around the token, and nothing else (a
 * token holding whitespace, another scheme, a scheme alone). And the message
 * of a `MalformedRequest`, with and without the RPC it names.
 */
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Option, Schema } from "effect"
import { Headers } from "effect/http"
import * as Auth from "../src/Auth.ts"
import { MalformedRequest } from "../src/TaskRpcError.ts"

const tokenOf = (authorization: string) => Auth.bearer(Headers.fromInput({ authorization }))

/** A token as clients send them: visible characters, no whitespace. */
const token = Arbitrary.map(
  Arbitrary.array(Arbitrary.schema(Schema.Literals(["a", "Z", "0", "-", "_", ".", "~", "+", "/", "="])), { minLength: 1, maxLength: 24 }),
  (characters) => characters.join("")
)
const scheme = Arbitrary.schema(Schema.Literals(["Bearer", "bearer", "BEARER", "bEaReR"]))
const space = Arbitrary.schema(Schema.Literals([" ", "  ", "\t", " \t "]))
const trailing = Arbitrary.schema(Schema.Literals(["", " ", "\t", "  "]))

describe("Auth.bearer", () => {
  it.prop("reads the token after the scheme, in any case, whatever whitespace surrounds it", [scheme, space, token, trailing], ([scheme, space, token, trailing]) => {
    assert.deepStrictEqual(tokenOf(`${scheme}${space}${token}${trailing}`), Option.some(token))
  })

  it.prop("finds no token in a header that is not one bearer token", [space, token], ([space, token]) => {
    for (
      const header of [
        `Basic${space}${token}`,
        `Bearer${token}`, // no space after the scheme
        `Bearer${space}${token}${space}${token}`, // two words
        `${space}Bearer ${token}`, // whitespace before the scheme
        `xBearer ${token}`,
        "Bearer",
        `Bearer${space}`
      ]
    ) {
      assert.isTrue(Option.isNone(tokenOf(header)), JSON.stringify(header))
    }
  })

  it("finds no token without an Authorization header", () => {
    assert.isTrue(Option.isNone(Auth.bearer(Headers.fromInput({ "x-authorization": "Bearer t" }))))
  })
})

describe("MalformedRequest", () => {
  it("names the RPC it concerns, when the frame named one", () => {
    assert.strictEqual(
      new MalformedRequest({ problem: "payload", rpc: "Submit", detail: "kind: expected a string" }).message,
      "invalid Submit request: kind: expected a string"
    )
    assert.strictEqual(new MalformedRequest({ problem: "frame", detail: "not JSON" }).message, "malformed request: not JSON")
  })
})
