/**
 * `Admission.hasFreeWorker` (what `Tasks.freeWorker` reads): a worker is free
 * only while the tasks running and the tasks waiting together are fewer than
 * the workers — a waiting task has the next free worker — and the kind is
 * under its limit.
 */
import { assert, describe, it } from "@effect/vitest"
import { Admission } from "../src/internal/admission.ts"
import type { Item } from "./admissionModel.ts"

const item = (name: string): Item => ({
  name,
  kindName: "k",
  slot: null,
  priority: 0,
  concurrency: Number.POSITIVE_INFINITY,
  keyConcurrency: 1
})

describe("Admission.hasFreeWorker", () => {
  it("counts the waiting tasks with the running ones against the workers", () => {
    const admission = new Admission<Item>(2)
    assert.isTrue(admission.hasFreeWorker("k", 5))
    admission.enqueue(item("a"))
    assert.isTrue(admission.hasFreeWorker("k", 5))
    admission.enqueue(item("b"))
    // two waiting, none running: both workers are spoken for
    assert.isFalse(admission.hasFreeWorker("k", 5))
    assert.strictEqual(admission.next()?.name, "a")
    // one running, one waiting
    assert.isFalse(admission.hasFreeWorker("k", 5))
    assert.deepStrictEqual(admission.drain().map((task) => task.name), ["b"])
    // one running, none waiting: a worker is free, unless the kind is at its limit
    assert.isTrue(admission.hasFreeWorker("k", 2))
    assert.isFalse(admission.hasFreeWorker("k", 1))
  })
})
