/**
 * Where a task's messages go (`TaskEntity.placement`): one key's tasks meet on
 * one entity (so on one runner), unkeyed tasks spread over a fixed set of
 * buckets by a stable hash of their id (FNV-1a, 32 bits). The placement must
 * not change between versions: a runner adopting a shard finds its unfinished
 * tasks by it.
 */
import { assert, describe, it } from "@effect/vitest"
import { TaskEntity } from "@chainjobs/cluster"

describe("TaskEntity placement", () => {
  it("hashes with FNV-1a (32 bits), the published test vectors", () => {
    assert.strictEqual(TaskEntity.hash(""), 0x811c9dc5)
    assert.strictEqual(TaskEntity.hash("a"), 0xe40c292c)
    assert.strictEqual(TaskEntity.hash("foobar"), 0xbf9cf968)
  })

  it("places a keyed task by its kind and key, whatever its id", () => {
    assert.strictEqual(TaskEntity.placement({ id: "one", kind: "scan", key: "0xabc" }), "k/scan/0xabc")
    assert.strictEqual(TaskEntity.placement({ id: "two", kind: "scan", key: "0xabc" }), "k/scan/0xabc")
    assert.strictEqual(TaskEntity.placement({ id: "one", kind: "scan", key: "" }), "k/scan/")
  })

  it("places an unkeyed task in one of 256 buckets by its id, whatever its kind", () => {
    assert.strictEqual(TaskEntity.buckets, 256)
    assert.strictEqual(TaskEntity.placement({ id: "a", kind: "scan", key: null }), `b/${0xe40c292c % 256}`)
    assert.strictEqual(TaskEntity.placement({ id: "foobar", kind: "other", key: null }), `b/${0xbf9cf968 % 256}`)
    const used = new Set(Array.from({ length: 4096 }, (_, i) => TaskEntity.placement({ id: `task-${i}`, kind: "k", key: null })))
    assert.strictEqual(used.size, 256, "4096 ids use every bucket")
  })
})
