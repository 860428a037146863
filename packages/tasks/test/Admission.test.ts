/** The admission decision on its own: limits, order, key holders, closing. */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Admission } from "../src/internal/admission.ts"
import { AdmissionModel, AdmitStep, type Item, StopStep } from "./admissionModel.ts"

const item = (name: string, options: Partial<Omit<Item, "name">> = {}): Item => ({
  name,
  kindName: options.kindName ?? "k",
  slot: options.slot ?? null,
  priority: options.priority ?? 0,
  concurrency: options.concurrency ?? Number.POSITIVE_INFINITY,
  keyConcurrency: options.keyConcurrency ?? 1
})

/** Takes every task `next` admits now. */
const admitAll = (admission: Admission<Item>): Array<string> => {
  const names: Array<string> = []
  let next: Item | undefined
  while ((next = admission.next()) !== undefined) names.push(next.name)
  return names
}

describe("Admission", () => {
  it("admits by priority, then arrival, up to the worker limit", () => {
    const admission = new Admission<Item>(3)
    for (const [name, priority] of [["a", 0], ["b", 5], ["c", 0], ["d", 5], ["e", 1]] as const) {
      admission.enqueue(item(name, { priority }))
    }
    assert.deepStrictEqual(admitAll(admission), ["b", "d", "e"])
    assert.strictEqual(admission.runningCount, 3)
    assert.strictEqual(admission.pendingCount, 2)
  })

  it("skips a task whose kind or key is at its limit, keeping its place", () => {
    const admission = new Admission<Item>(10)
    const a1 = item("a1", { kindName: "a", concurrency: 1 })
    admission.enqueue(a1)
    admission.enqueue(item("a2", { kindName: "a", concurrency: 1 }))
    admission.enqueue(item("x1", { kindName: "b", slot: "b/x" }))
    admission.enqueue(item("x2", { kindName: "b", slot: "b/x" }))
    admission.enqueue(item("y1", { kindName: "b", slot: "b/y" }))
    assert.deepStrictEqual(admitAll(admission), ["a1", "x1", "y1"])
    assert.deepStrictEqual(admission.runningByKindRecord(), { a: 1, b: 2 })
    assert.isTrue(admission.stopped(a1))
    assert.isFalse(admission.stopped(a1))
    assert.deepStrictEqual(admitAll(admission), ["a2"])
  })

  it("a key's conflict is its first holder once the limit is held, until it lets go", () => {
    const admission = new Admission<Item>(10)
    const first = item("first", { slot: "k/1", keyConcurrency: 2 })
    const second = item("second", { slot: "k/1", keyConcurrency: 2 })
    assert.isUndefined(admission.conflict("k/1", 2))
    admission.hold(first)
    assert.isUndefined(admission.conflict("k/1", 2))
    admission.hold(second)
    assert.strictEqual(admission.conflict("k/1", 2), first)
    admission.unhold(first)
    assert.isUndefined(admission.conflict("k/1", 2))
    assert.strictEqual(admission.conflict("k/1", 1), second)
    assert.isUndefined(admission.conflict(null, 1))
  })

  it("withdraws a waiting task; once closed, admits nothing and drains in order", () => {
    const admission = new Admission<Item>(1)
    const [a, b, c] = [item("a"), item("b"), item("c")]
    admission.enqueue(a)
    admission.enqueue(b)
    admission.enqueue(c)
    assert.isTrue(admission.withdraw(b))
    assert.isFalse(admission.withdraw(b))
    admission.close()
    assert.isFalse(admission.isOpen)
    assert.isUndefined(admission.next())
    assert.deepStrictEqual(admission.drain().map((i) => i.name), ["a", "c"])
  })

  /** One step of a random run: enqueue a task of a kind/key/priority, admit what may start, or stop a running task. */
  const Step = Schema.Union([
    Schema.TaggedStruct("Enqueue", {
      kind: Schema.Literals(["a", "b"]),
      key: Schema.NullOr(Schema.Literals(["x", "y"])),
      priority: Schema.Literals([0, 1, 2])
    }),
    AdmitStep,
    StopStep
  ])

  it.prop(
    "whatever the steps, no limit is exceeded and every admitted task was the first startable one",
    { steps: Schema.Array(Step) },
    ({ steps }) => {
      const maxWorkers = 3
      const concurrency: Record<string, number> = { a: 2, b: 3 }
      const model = new AdmissionModel(new Admission<Item>(maxWorkers))
      const { admission, running, waiting } = model
      for (const step of steps) {
        if (step._tag === "Enqueue") {
          const next = item(model.nextName(), {
            kindName: step.kind,
            slot: step.key === null ? null : `${step.kind}/${step.key}`,
            priority: step.priority,
            concurrency: concurrency[step.kind]
          })
          admission.enqueue(next)
          waiting.push(next)
        } else if (step._tag === "Admit") {
          model.admitAll((admitted) => {
            // the model: the highest-priority, earliest startable waiting task
            const expected = waiting
              .filter(model.startable)
              .sort((x, y) => y.priority - x.priority || waiting.indexOf(x) - waiting.indexOf(y))[0]
            assert.strictEqual(admitted, expected)
          })
          assert.isTrue(running.length === maxWorkers || waiting.every((w) => !model.startable(w)))
        } else {
          model.stop(step.index)
        }
        assert.isAtMost(admission.runningCount, maxWorkers)
        model.assertCounts()
        for (const r of running) {
          assert.isAtMost(running.filter((o) => o.kindName === r.kindName).length, r.concurrency)
          if (r.slot !== null) assert.isAtMost(running.filter((o) => o.slot === r.slot).length, r.keyConcurrency)
        }
      }
    }
  )
})
