/**
 * Admission of a task that is not queued (`mayStartNow`, then `started`): a submission that may start at once is
 * recorded running, so the decision must be the queue's — open, a worker free, nobody waiting, kind and key under
 * their limits — and the counts it leaves must be the ones `next` would leave (stats read them).
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Admission } from "../src/internal/admission.ts"
import { AdmissionModel, AdmitStep, type Item, StopStep } from "./admissionModel.ts"

const item = (name: string, kindName: string, slot: string | null, concurrency: number, keyConcurrency: number): Item => ({
  name,
  kindName,
  slot,
  priority: 0,
  concurrency,
  keyConcurrency
})

describe("Admission of a task that may start at once", () => {
  it("a kind whose tasks all stopped is no longer listed as running, and its key is free again", () => {
    const admission = new Admission<Item>(4)
    const a = item("a", "a", "a/x", 1, 1)
    const b = item("b", "b", null, 2, 1)
    assert.isTrue(admission.mayStartNow("a", "a/x", 1, 1))
    admission.started(a)
    admission.started(b)
    assert.deepStrictEqual(admission.runningByKindRecord(), { a: 1, b: 1 })
    // the kind's limit and the key's are reached
    assert.isFalse(admission.mayStartNow("a", null, 1, 1))
    assert.isFalse(admission.mayStartNow("c", "a/x", 5, 1))
    assert.isTrue(admission.mayStartNow("c", "a/x", 5, 2))
    assert.isTrue(admission.stopped(a))
    assert.deepStrictEqual(admission.runningByKindRecord(), { b: 1 })
    assert.isTrue(admission.mayStartNow("a", "a/x", 1, 1))
    assert.isTrue(admission.stopped(b))
    assert.deepStrictEqual(admission.runningByKindRecord(), {})
    assert.strictEqual(admission.runningCount, 0)
  })

  it("nothing starts at once while a task waits, when every worker is busy, or once closed", () => {
    const admission = new Admission<Item>(1)
    const waiting = item("w", "w", null, 1, 1)
    admission.enqueue(waiting)
    // a task of another kind, free of limits, would jump the queue
    assert.isFalse(admission.mayStartNow("other", null, 10, 1))
    assert.strictEqual(admission.next(), waiting)
    // the one worker is busy
    assert.isFalse(admission.mayStartNow("other", null, 10, 1))
    assert.isTrue(admission.stopped(waiting))
    assert.isTrue(admission.mayStartNow("other", null, 10, 1))
    admission.close()
    assert.isFalse(admission.mayStartNow("other", null, 10, 1))
  })

  /** One step of a random run: a task asks to start at once (and starts if allowed), is queued, admitted, or stops. */
  const Step = Schema.Union([
    Schema.TaggedStruct("Submit", {
      kind: Schema.Literals(["a", "b"]),
      key: Schema.NullOr(Schema.Literals(["x", "y"])),
      queued: Schema.Boolean
    }),
    AdmitStep,
    StopStep
  ])

  it.prop(
    "whatever the steps, a task may start at once exactly when the model says so, and the counts follow",
    { steps: Schema.Array(Step) },
    ({ steps }) => {
      const maxWorkers = 3
      const concurrency: Record<string, number> = { a: 1, b: 2 }
      const model = new AdmissionModel(new Admission<Item>(maxWorkers))
      const { admission, running, waiting } = model
      for (const step of steps) {
        if (step._tag === "Submit") {
          const next = item(model.nextName(), step.kind, step.key === null ? null : `${step.kind}/${step.key}`, concurrency[step.kind], 1)
          const expected = running.length < maxWorkers && waiting.length === 0 && model.startable(next)
          const allowed = admission.mayStartNow(next.kindName, next.slot, next.concurrency, next.keyConcurrency)
          assert.strictEqual(allowed, expected)
          if (allowed && !step.queued) {
            admission.started(next)
            running.push(next)
          } else {
            admission.enqueue(next)
            waiting.push(next)
          }
        } else if (step._tag === "Admit") {
          model.admitAll()
        } else {
          model.stop(step.index)
        }
        const byKind: Record<string, number> = {}
        for (const r of running) byKind[r.kindName] = (byKind[r.kindName] ?? 0) + 1
        assert.deepStrictEqual(admission.runningByKindRecord(), byKind)
        model.assertCounts()
      }
    }
  )
})
