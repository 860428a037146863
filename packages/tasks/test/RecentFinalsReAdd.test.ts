/**
 * `RecentFinals` keeps the latest final records in the order they were
 * added: a record added again for a kept id counts as the newest, so the
 * one pushed out past the capacity is the one kept longest since.
 */
import { assert, describe, it } from "@effect/vitest"
import { RecentFinals } from "../src/internal/recentFinals.ts"
import { record } from "./TaskStoreConformance.ts"

describe("RecentFinals, a record added again", () => {
  it("counts as the newest: the oldest other record is pushed out first", () => {
    const finals = new RecentFinals(2)
    const a = record({ status: "completed" })
    const b = record({ status: "completed" })
    const c = record({ status: "completed" })
    finals.add(a)
    finals.add(b)
    const again = { ...a, attempt: 2 }
    finals.add(again)
    finals.add(c)
    assert.strictEqual(finals.size, 2)
    assert.isUndefined(finals.get(b.id))
    assert.strictEqual(finals.get(a.id), again)
    assert.strictEqual(finals.get(c.id), c)
  })
})
