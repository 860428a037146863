/**
 * `runNow` (internal/immediate.ts), the one runner of a store's write done at
 * once: it answers what running the marked write's Effect would have ended
 * with — success, the store's refusal as a failure, and a throw as a defect
 * (not an exception out of the supervisor's call, nor no answer at all).
 */
import { assert, describe, it } from "@effect/vitest"
import { Exit } from "effect"
import { runNow } from "../src/internal/immediate.ts"
import { TaskStoreError } from "../src/TaskError.ts"
import { record } from "./TaskStoreConformance.ts"

describe("runNow", () => {
  it("answers a stored record as success, a refusal as its failure and a throw as a defect", () => {
    const info = record()
    const seen: Array<string> = []
    assert.deepStrictEqual(runNow((one) => {
      seen.push(one.id)
      return undefined
    }, info), Exit.void)
    assert.deepStrictEqual(seen, [info.id])

    const refused = new TaskStoreError({ operation: "insert", detail: "full" })
    assert.deepStrictEqual(runNow(() => refused, info), Exit.fail(refused))

    const broken = new Error("the store broke")
    assert.deepStrictEqual(runNow(() => {
      throw broken
    }, info), Exit.die(broken))
  })
})
