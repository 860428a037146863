/**
 * A model of what admission holds, for its property tests: the tasks waiting and running, and whether a task's kind
 * and key are under their limits among the running ones. The tests drive the model and an `Admission` with the same
 * random steps and compare them after each.
 */
import { assert } from "@effect/vitest"
import { Schema } from "effect"
import type { Admission, Admittable } from "../src/internal/admission.ts"

/** A task as admission sees it, named for the assertions. */
export interface Item extends Admittable {
  readonly name: string
}

/** A step that admits every task that may start now. */
export const AdmitStep = Schema.TaggedStruct("Admit", {})

/** A step that stops the running task at `index` (modulo how many run), if any runs. */
export const StopStep = Schema.TaggedStruct("Stop", { index: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 20 })) })

/** The model beside an `Admission`, fed the same steps. */
export class AdmissionModel {
  /** Tasks queued, in arrival order. */
  readonly waiting: Array<Item> = []
  /** Tasks running, in start order. */
  readonly running: Array<Item> = []
  private count = 0

  /** The admission under test. */
  readonly admission: Admission<Item>

  constructor(admission: Admission<Item>) {
    this.admission = admission
  }

  /** A name no earlier task of this run had. */
  nextName(): string {
    return `t${this.count++}`
  }

  /** Whether `candidate`'s kind and key are under their limits among the running tasks. */
  readonly startable = (candidate: Item): boolean =>
    this.running.filter((r) => r.kindName === candidate.kindName).length < candidate.concurrency &&
    (candidate.slot === null || this.running.filter((r) => r.slot === candidate.slot).length < candidate.keyConcurrency)

  /** Takes every task `next` admits now from waiting to running, showing each to `check` first. */
  admitAll(check: (admitted: Item) => void = () => {}): void {
    let admitted: Item | undefined
    while ((admitted = this.admission.next()) !== undefined) {
      check(admitted)
      this.waiting.splice(this.waiting.indexOf(admitted), 1)
      this.running.push(admitted)
    }
  }

  /** Stops the running task at `index` modulo how many run (nothing when none runs); admission must know it ran. */
  stop(index: number): void {
    if (this.running.length === 0) return
    assert.isTrue(this.admission.stopped(this.running.splice(index % this.running.length, 1)[0]))
  }

  /** Asserts admission counts what the model holds. */
  assertCounts(): void {
    assert.strictEqual(this.admission.runningCount, this.running.length)
    assert.strictEqual(this.admission.pendingCount, this.waiting.length)
  }
}
