/**
 * Which part of the memory store's table an id goes to (`MemoryRecords`): the
 * sorted array takes only ids shaped as this process's (UUID v7: 36
 * characters or more, dashes at 8, 13, 18 and 23, version 7 at 14); any other
 * id, even one sorting above the array's greatest, goes to the `Map` beside
 * it, so a caller's chosen id never becomes the array's greatest for good.
 * `outOfOrder` counts the `Map`'s records; either way the record is found.
 */
import { assert, describe, it } from "@effect/vitest"
import { MemoryRecords } from "../src/internal/MemoryRecords.ts"
import { record } from "./TaskStoreConformance.ts"

/** A UUID v7 of 36 characters, and variants of it each off the shape in one place. */
const v7 = "00000000-0000-7000-8000-000000000001"
const offShape: ReadonlyArray<readonly [string, string]> = [
  ["35 characters", v7.slice(0, 35)],
  ["no dash at 8", `${v7.slice(0, 8)}x${v7.slice(9)}`],
  ["no dash at 13", `${v7.slice(0, 13)}x${v7.slice(14)}`],
  ["no version 7 at 14", `${v7.slice(0, 14)}4${v7.slice(15)}`],
  ["no dash at 18", `${v7.slice(0, 18)}x${v7.slice(19)}`],
  ["no dash at 23", `${v7.slice(0, 23)}x${v7.slice(24)}`]
]

/** Inserts one record of `id` into an empty table: how many records it then keeps out of order, and whether it finds it. */
const placed = (id: string) => {
  const table = new MemoryRecords()
  const info = record({ id })
  assert.isTrue(table.insert(info))
  return { outOfOrder: table.outOfOrder, found: table.get(id) === info }
}

describe("MemoryRecords' shape check", () => {
  it("puts a 36-character UUID v7 in the sorted array", () => {
    assert.deepStrictEqual(placed(v7), { outOfOrder: 0, found: true })
  })

  it("puts an id off the UUID v7 shape in one place in the Map, though it sorts above every id held", () => {
    for (const [what, id] of offShape) {
      assert.deepStrictEqual(placed(id), { outOfOrder: 1, found: true }, what)
    }
  })

  it("keeps sending later UUID v7 ids to the array after an off-shape id that sorts above them", () => {
    const table = new MemoryRecords()
    assert.isTrue(table.insert(record({ id: "order-1" })))
    assert.isTrue(table.insert(record({ id: v7 })))
    assert.strictEqual(table.outOfOrder, 1)
  })
})
