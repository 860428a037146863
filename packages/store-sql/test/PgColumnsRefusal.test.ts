/**
 * What a PostgreSQL part refuses, in its own words: a time that is not a
 * whole number throws a `RangeError` naming the value and what the column
 * needs (the store's `TaskStoreError` carries that text as its detail), in
 * a part of one record (the value goes alone) and of several (in an array).
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { assert, describe, it } from "@effect/vitest"
import { pgPart } from "../src/internal/pgColumns.ts"

/** The error `pgPart` throws for `records`, or `undefined` when it throws none. */
const refusal = (records: Parameters<typeof pgPart>[0]): unknown => {
  try {
    pgPart(records)
    return undefined
  } catch (error) {
    return error
  }
}

describe("a PostgreSQL part's refusal", () => {
  it("a time that is not a whole number throws a RangeError naming it, alone or among others", () => {
    for (const records of [[record({ status: "running", startedAt: 1.5 })], [record(), record({ status: "running", startedAt: 1.5 })]]) {
      const error = refusal(records)
      assert.instanceOf(error, RangeError)
      assert.strictEqual((error as RangeError).message, "1.5 is not a whole number, as an int8 column needs")
    }
  })
})
