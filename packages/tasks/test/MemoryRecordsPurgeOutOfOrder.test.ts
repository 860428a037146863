/**
 * A purge (`removeWhere`) over the memory store's table reaches the records
 * kept out of order (the `Map` beside the sorted array: ids that came below
 * the greatest one, or ids not shaped as this process's) as it reaches the
 * array's: each matching record is removed and returned, the others stay.
 * `MemoryRecords.test`'s model run reaches a purge with out-of-order records
 * only rarely (its operations are short), so this case is written out.
 */
import { assert, describe, it } from "@effect/vitest"
import { MemoryRecords } from "../src/internal/MemoryRecords.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import { record } from "./TaskStoreConformance.ts"

/** Ids in sorted order, to compare collections whose order is not theirs to keep. */
const ids = (infos: Iterable<TaskInfo>) => Array.from(infos, (info) => info.id).sort()

describe("MemoryRecords purge", () => {
  it("removes and returns the matching records of both parts, leaving the rest found", () => {
    // increasing time-ordered ids; the last comes first, so the others go out of order
    const [a, b, c, d] = [record(), record(), record(), record()]
    const chosen = record({ id: "order-1" })
    const table = new MemoryRecords()
    for (const info of [d, a, b, chosen, c]) assert.isTrue(table.insert(info))
    assert.strictEqual(table.outOfOrder, 4)

    const gone = new Set([a.id, chosen.id, d.id])
    const purged = table.removeWhere((info) => gone.has(info.id))
    assert.deepStrictEqual(ids(purged), ids([a, chosen, d]))
    assert.strictEqual(table.outOfOrder, 2)
    for (const info of [a, chosen, d]) assert.isUndefined(table.get(info.id))
    assert.strictEqual(table.get(b.id), b)
    assert.strictEqual(table.get(c.id), c)
    assert.deepStrictEqual(ids(table.values()), ids([b, c]))

    // purged once: a second purge finds nothing
    assert.deepStrictEqual(table.removeWhere((info) => gone.has(info.id)), [])
    assert.deepStrictEqual(ids(table.values()), ids([b, c]))
  })
})
