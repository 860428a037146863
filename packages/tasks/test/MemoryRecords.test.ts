/**
 * The memory store's table against a `Map` as its model: any sequence of
 * inserts, overwrites and deletions over ids coming in order and out of order
 * (both parts of the table, deleted records' holes, compaction) leaves the
 * same records, found by id, listed newest first from any cursor, and an
 * insert of a held id refused with nothing changed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { MemoryRecords } from "../src/internal/MemoryRecords.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import { record } from "./TaskStoreConformance.ts"

/** Time-ordered ids: a pool of 120 records, ids increasing with their index. */
const pool: ReadonlyArray<TaskInfo> = Array.from({ length: 120 }, () => record())
/** Each pool id's index. */
const indexOf = new Map(pool.map((info, i) => [info.id, i]))

/**
 * One operation, as one number (cheap to generate): `op` 0–1 insert, 2 put, 3–4 remove, 5 purge of a residue
 * class; `source` 0 the next id in order (most of a real store's ids come so), 1 one of the 4 latest of those,
 * 2 the id at `at`.
 */
const Operation = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 6 * 3 * 120 - 1 }))
const decode = (code: number) => ({ op: code % 6, source: Math.floor(code / 6) % 3, at: Math.floor(code / 18) })

/** Records in id order, to compare collections whose order is not theirs to keep. */
const byId = (infos: Iterable<TaskInfo>) => Array.from(infos).sort((a, b) => (a.id < b.id ? -1 : 1))

const newestFirst = (model: Map<string, TaskInfo>, before?: string) =>
  Array.from(model.values()).filter((info) => before === undefined || info.id < before).sort((a, b) => (a.id < b.id ? 1 : -1))

describe("MemoryRecords", () => {
  it.prop(
    "behaves as a Map of records by id, listed newest first",
    { operations: Schema.Array(Operation).check(Schema.isMaxLength(150)), cursor: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 119 })) },
    ({ cursor, operations }) => {
      const table = new MemoryRecords()
      const model = new Map<string, TaskInfo>()
      let next = 0
      for (const { at, op, source } of operations.map(decode)) {
        const base = pool[
          source === 0 ? Math.min(next++, pool.length - 1) : source === 1 ? Math.max(0, Math.min(next, pool.length) - 1 - (at % 4)) : at
        ]
        const info: TaskInfo = { ...base, progress: op }
        if (op <= 1) {
          const held = model.has(info.id)
          assert.strictEqual(table.insert(info), !held, `insert of ${info.id}`)
          if (!held) model.set(info.id, info)
        } else if (op === 2) {
          table.put(info)
          model.set(info.id, info)
        } else if (op <= 4) {
          assert.strictEqual(table.remove(info.id), model.get(info.id), `remove of ${info.id}`)
          model.delete(info.id)
        } else {
          const residue = at % 3
          const purged = table.removeWhere((one) => indexOf.get(one.id)! % 3 === residue)
          const expected = Array.from(model.values()).filter((one) => indexOf.get(one.id)! % 3 === residue)
          for (const one of expected) model.delete(one.id)
          assert.deepStrictEqual(byId(purged), byId(expected))
        }
      }
      for (const info of pool) assert.strictEqual(table.get(info.id), model.get(info.id), `get of ${info.id}`)
      assert.deepStrictEqual(Array.from(table.newestFirst()), newestFirst(model))
      const before = pool[cursor].id
      assert.deepStrictEqual(Array.from(table.newestFirst(before)), newestFirst(model, before))
      assert.deepStrictEqual(byId(table.values()), byId(model.values()))
    }
  )

  it("compacts the holes of many deletions and keeps finding what is left", () => {
    const table = new MemoryRecords()
    const many = Array.from({ length: 300 }, () => record())
    for (const info of many) assert.isTrue(table.insert(info))
    for (let i = 0; i < 250; i++) assert.strictEqual(table.remove(many[i].id), many[i])
    for (let i = 0; i < many.length; i++) assert.strictEqual(table.get(many[i].id), i < 250 ? undefined : many[i])
    // a deleted id may come back, in its place
    assert.isTrue(table.insert(many[10]))
    assert.deepStrictEqual(Array.from(table.newestFirst()).map((info) => info.id), [...many.slice(250).reverse(), many[10]].map((info) => info.id))
  })

  it("an id the caller chose that sorts above this process's ids leaves them in order, not out of it", () => {
    const table = new MemoryRecords()
    const chosen = [record({ id: "order-1" }), record({ id: "f47ac10b-58cc-4372-a567-0e02b2c3d479" })]
    for (const info of chosen) assert.isTrue(table.insert(info))
    const later = Array.from({ length: 200 }, () => record())
    for (const info of later) assert.isTrue(table.insert(info))
    table.put({ ...later[199], status: "running" })
    // only the two chosen ids are kept out of order; every later id still goes at the end of the sorted array
    assert.strictEqual(table.outOfOrder, 2)
    for (const info of later.slice(0, 199)) assert.strictEqual(table.get(info.id), info)
    assert.strictEqual(table.get(later[199].id)?.status, "running")
    assert.deepStrictEqual(
      Array.from(table.newestFirst()).map((info) => info.id),
      [...chosen.map((info) => info.id), ...later.map((info) => info.id).reverse()]
    )
  })
})
