/**
 * A deletion (`remove`) of a record kept out of order (in the `Map` beside
 * the sorted array: an id below the greatest one held) takes it out: it is
 * returned once, then no longer found, listed or counted.
 */
import { assert, describe, it } from "@effect/vitest"
import { MemoryRecords } from "../src/internal/MemoryRecords.ts"
import { record } from "./TaskStoreConformance.ts"

describe("MemoryRecords remove", () => {
  it("deletes a record kept out of order", () => {
    const [older, newer] = [record(), record()]
    const table = new MemoryRecords()
    assert.isTrue(table.insert(newer))
    assert.isTrue(table.insert(older))
    assert.strictEqual(table.outOfOrder, 1)
    assert.strictEqual(table.remove(older.id), older)
    assert.isUndefined(table.get(older.id))
    assert.isUndefined(table.remove(older.id))
    assert.strictEqual(table.outOfOrder, 0)
    assert.deepStrictEqual(Array.from(table.values()), [newer])
  })
})
