/**
 * The baseline compiler `serve` asks of V8 for every function: read from
 * `CHAINJOBS_EAGER_BASELINE` (on unset, off for a false value, anything
 * else refused, and by `serve` before it binds); not set when off, nor over an `--always-sparkplug` (or its
 * negation) given to `node`; and in a real process (`eagerBaselineChild.ts`)
 * a function called for the first time after `apply` runs on baseline code,
 * where without it it runs in the interpreter.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as EagerBaseline from "../src/EagerBaseline.ts"
import { assertReads, childReport, serveRefusal } from "./processSettings.ts"

describe("EagerBaseline", () => {
  it.effect("the choice comes from CHAINJOBS_EAGER_BASELINE, on unset; a value that is not a boolean is refused", () =>
    assertReads(EagerBaseline.eagerConfig, "CHAINJOBS_EAGER_BASELINE", [
      [undefined, true],
      ["false", false],
      ["0", false],
      ["off", false],
      ["true", true],
      ["maybe", "refused"]
    ]))

  it.effect("serve refuses a value that is not a boolean before it binds, naming the variable", () =>
    Effect.map(serveRefusal("CHAINJOBS_EAGER_BASELINE", "maybe"), (error) => assert.include(error, "CHAINJOBS_EAGER_BASELINE")), 40_000)

  it("sets nothing when off, nor over an --always-sparkplug or its negation given to node, in either spelling", () => {
    assert.isFalse(EagerBaseline.apply(false, []))
    assert.isFalse(EagerBaseline.apply(true, ["--always-sparkplug"]))
    assert.isFalse(EagerBaseline.apply(true, ["--inspect", "--no_always_sparkplug"]))
  })

  it.effect("a function first called after apply runs on baseline code; without it, in the interpreter", () =>
    Effect.gen(function*() {
      const off = yield* childReport<{ set: boolean; baseline: boolean }>("eagerBaselineChild.ts", "false")
      const on = yield* childReport<{ set: boolean; baseline: boolean }>("eagerBaselineChild.ts", "true")
      assert.deepStrictEqual(off, { set: false, baseline: false })
      assert.deepStrictEqual(on, { set: true, baseline: true })
    }), 60_000)
})
