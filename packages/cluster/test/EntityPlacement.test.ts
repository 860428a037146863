/**
 * Which task entity a task goes to (`TaskEntity.placement`), as plain
 * functions: every runner of a cluster, of this version or the next during a
 * rolling upgrade, must compute the same entity id for a task, since the id
 * decides the shard, so the runner, that admits and runs it. A keyed task's
 * entity is its kind's and key's (`k/<kind>/<key>`: one key's tasks meet on
 * one runner, where its exclusive-key rule holds); an unkeyed task's is the
 * bucket of its id's 32-bit FNV-1a hash (`b/<bucket>`), the hash
 * `LocalPlacement` continues (`hashOn`) when it tries endings of an id. In a
 * cluster every runner computes the same ids, so a change of them shows on
 * no single runner: these pin them.
 */
import { assert, describe, it } from "@effect/vitest"
import { TaskEntity } from "@chainjobs/cluster"

describe("TaskEntity's placement of tasks", () => {
  it("hashes as 32-bit FNV-1a, and a hash continued from a prefix's is the whole text's", () => {
    // FNV-1a's published test vectors
    assert.strictEqual(TaskEntity.hash(""), 0x811c9dc5)
    assert.strictEqual(TaskEntity.hash("a"), 0xe40c292c)
    assert.strictEqual(TaskEntity.hash("foobar"), 0xbf9cf968)
    assert.strictEqual(TaskEntity.hashOn(TaskEntity.hash("foo"), "bar"), TaskEntity.hash("foobar"))
  })

  it("an unkeyed task goes to its id's bucket entity, a keyed one to its kind's and key's, whatever its id", () => {
    const id = "0190f1c2-7a1b-7c3d-8e4f-0123456789ab"
    const bucket = TaskEntity.bucketOf(TaskEntity.hash(id))
    assert.strictEqual(bucket, TaskEntity.hash(id) % TaskEntity.buckets)
    assert.strictEqual(TaskEntity.placement({ id, kind: "mail", key: null }), `b/${bucket}`)
    assert.strictEqual(TaskEntity.bucketEntity(bucket), `b/${bucket}`)
    assert.strictEqual(TaskEntity.placement({ id, kind: "mail", key: "alice" }), "k/mail/alice")
    assert.strictEqual(TaskEntity.placement({ id: `${id}0`, kind: "mail", key: "alice" }), "k/mail/alice")
  })

  it("tells a bucket's entity from a key's, also a key that ends or contains like a bucket's", () => {
    assert.isTrue(TaskEntity.isBucketEntity(TaskEntity.bucketEntity(7)))
    assert.isFalse(TaskEntity.isBucketEntity(TaskEntity.placement({ id: "x", kind: "mail", key: "b/" })))
    assert.isFalse(TaskEntity.isBucketEntity(TaskEntity.placement({ id: "x", kind: "b", key: "7" })))
  })
})
