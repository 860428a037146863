/**
 * `CHAINJOBS_PROP_RUNS` (the root `testing/propRuns.ts`): unset, a property
 * runs its own count or effect's default of 100; set, both are raised by
 * the same factor, through every way a test file declares a property
 * (`it.prop`, `it.effect.prop`), counted here run by run. A bad setting is
 * refused with a message naming the variable.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { propRunsSetting, propRunsVariable, raisedPropRuns } from "../../../testing/propRuns.ts"

const raised = propRunsSetting(process.env[propRunsVariable])
/** The runs a property with this count of its own (or none) makes in this run of the tests. */
const expected = (own: number | undefined) => raised === undefined ? own ?? 100 : raisedPropRuns(own, raised)

const counted = { own: 0, plain: 0, effect: 0 }

describe("property run counts", () => {
  it.prop("a property with a count of its own", [Schema.Int], () => {
    counted.own++
  }, { arbitrary: { runs: 7 } })

  it.prop("a property with effect's default count", [Schema.String], () => {
    counted.plain++
  })

  it.effect.prop("an effectful property with a count of its own", [Schema.Boolean], () =>
    Effect.sync(() => {
      counted.effect++
    }), { arbitrary: { runs: 3 } })

  it("each ran as often as the setting asks (the tests above run first, in order)", () => {
    assert.deepStrictEqual(counted, { own: expected(7), plain: expected(undefined), effect: expected(3) })
  })

  it("a setting that is not a positive whole number is refused, naming the variable", () => {
    for (const bad of ["0", "-5", "1.5", "2e3", "ten", " 100", "100 "]) {
      assert.throws(() => propRunsSetting(bad), /CHAINJOBS_PROP_RUNS must be a positive whole number of property runs/)
    }
    assert.strictEqual(propRunsSetting(undefined), undefined)
    assert.strictEqual(propRunsSetting(""), undefined)
    assert.strictEqual(propRunsSetting("2000"), 2000)
  })

  it("a raised count scales a property's own count by the same factor as the default, never below one", () => {
    assert.strictEqual(raisedPropRuns(undefined, 2000), 2000)
    assert.strictEqual(raisedPropRuns(30, 2000), 600)
    assert.strictEqual(raisedPropRuns(6, 50), 3)
    assert.strictEqual(raisedPropRuns(1, 10), 1)
  })
})
