/**
 * The waiting room against a model: any sequence of pushes, removals, takes
 * (with a condition) and drains gives what a plain list ordered by priority
 * (higher first) and arrival would give, and `size` counts what waits.
 * Admission's counters end empty: a kind with no running task is not
 * reported.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Admission } from "../src/internal/admission.ts"
import { PendingQueue } from "../src/internal/PendingQueue.ts"

/** One operation: push item n (priority p), remove item n, take the first accepted by `n % k !== 0`, or drain. */
const Operation = Schema.Struct({
  op: Schema.Literals(["push", "push", "remove", "take", "drain"]),
  n: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 8 })),
  p: Schema.Int.check(Schema.isBetween({ minimum: -2, maximum: 2 })),
  k: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 }))
})

describe("PendingQueue", () => {
  it.prop("any sequence of operations matches a list ordered by priority, then arrival", { ops: Schema.Array(Operation) }, ({ ops }) => {
    const queue = new PendingQueue<number>()
    let model: Array<{ readonly item: number; readonly priority: number; readonly seq: number }> = []
    let seq = 0
    const ordered = () => [...model].sort((a, b) => b.priority - a.priority || a.seq - b.seq)
    const priorityOf = new Map<number, number>()
    for (const { k, n, op, p } of ops) {
      switch (op) {
        case "push": {
          if (priorityOf.has(n)) break
          priorityOf.set(n, p)
          queue.push(n, p)
          model.push({ item: n, priority: p, seq: seq++ })
          break
        }
        case "remove": {
          const priority = priorityOf.get(n) ?? p
          const present = model.some((entry) => entry.item === n)
          assert.strictEqual(queue.remove(n, priority), present)
          model = model.filter((entry) => entry.item !== n)
          if (present) priorityOf.delete(n)
          break
        }
        case "take": {
          const accept = (item: number) => item % k !== 0
          const expected = ordered().find((entry) => accept(entry.item))
          assert.strictEqual(queue.take(accept), expected?.item)
          if (expected !== undefined) {
            model = model.filter((entry) => entry !== expected)
            priorityOf.delete(expected.item)
          }
          break
        }
        case "drain": {
          assert.deepStrictEqual(queue.drain(), ordered().map((entry) => entry.item))
          model = []
          priorityOf.clear()
          break
        }
      }
      assert.strictEqual(queue.size, model.length)
    }
    assert.deepStrictEqual(queue.drain(), ordered().map((entry) => entry.item))
  }, { arbitrary: { runs: 300 } })

  it("an item is removed from its own priority's lane, whichever lanes exist", () => {
    const queue = new PendingQueue<string>()
    queue.push("high", 2)
    queue.push("low", 0)
    queue.push("mid", 1)
    assert.isTrue(queue.remove("low", 0))
    assert.isFalse(queue.remove("mid", 5))
    assert.isTrue(queue.remove("mid", 1))
    assert.deepStrictEqual(queue.drain(), ["high"])
  })

  it("thousands in one lane, taken from the front, come out in order", () => {
    const queue = new PendingQueue<number>()
    for (let i = 0; i < 5000; i++) queue.push(i, 0)
    for (let i = 0; i < 3000; i++) assert.strictEqual(queue.take(() => true), i)
    queue.push(5000, 0)
    assert.isTrue(queue.remove(4000, 0))
    assert.isFalse(queue.remove(4000, 0))
    const rest = queue.drain()
    assert.strictEqual(rest.length, 2000)
    assert.deepStrictEqual([rest[0], rest[999], rest[1000], rest[1999]], [3000, 3999, 4001, 5000])
  })
})

describe("Admission's counters", () => {
  it("a kind with no running task is not reported", () => {
    const admission = new Admission<{ kindName: string; slot: string | null; priority: number; concurrency: number; keyConcurrency: number }>(4)
    const task = { kindName: "k", slot: "k\u0000a", priority: 0, concurrency: 2, keyConcurrency: 1 }
    admission.enqueue(task)
    assert.strictEqual(admission.next(), task)
    assert.deepStrictEqual(admission.runningByKindRecord(), { k: 1 })
    assert.isTrue(admission.stopped(task))
    assert.deepStrictEqual(admission.runningByKindRecord(), {})
    // its key is free again: another task of the key starts
    const again = { ...task }
    admission.enqueue(again)
    assert.strictEqual(admission.next(), again)
  })
})
