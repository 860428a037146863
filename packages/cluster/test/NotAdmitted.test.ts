/**
 * `NotAdmitted`, the owner's refusal of a submission before it recorded
 * anything: its message names the task, the shard and the wait, and once the
 * submission's tries ran out its caller is told the store-unavailable error
 * (`toStoreError`) with the refusal as its cause. A runner of the previous
 * version, met during a rolling upgrade, sends the same refusal as a
 * `TaskStoreError` named `submit`: it is sent again all the same
 * (`isRefusal`), and no other error is. A submission whose handler
 * the owner interrupted before it recorded anything (`SubmitInterrupted`) is
 * one as well.
 */
import { assert, describe, it } from "@effect/vitest"
import { TaskError } from "@chainjobs/tasks"
import { NotAdmitted } from "@chainjobs/cluster"

const refusal = new NotAdmitted.NotAdmitted({ id: "task-1", shard: "default:7", waitedMillis: 10_000 })

describe("NotAdmitted", () => {
  it("says which task was not admitted, on which shard, after how long, and that nothing was recorded", () => {
    assert.strictEqual(refusal._tag, "NotAdmitted")
    assert.strictEqual(
      refusal.message,
      "task task-1 was not admitted: shard default:7 did not open on its owner within 10000 ms " +
        "(its unfinished tasks not adopted yet, or it moved); nothing was recorded, submit again"
    )
  })

  it("is told to the caller as the store's unavailability of a submission, caused by the refusal", () => {
    const error = NotAdmitted.toStoreError(refusal)
    assert.strictEqual(error._tag, "TaskStoreError")
    assert.strictEqual(error.operation, "submit")
    assert.strictEqual(error.detail, refusal.message)
    assert.strictEqual(error.cause, refusal)
  })

  it("a refusal is a NotAdmitted or, from a runner of the previous version, the store error named submit; nothing else", () => {
    assert.isTrue(NotAdmitted.isRefusal(refusal))
    assert.isTrue(NotAdmitted.isRefusal(new TaskError.TaskStoreError({ operation: "submit", detail: "shard default:7 did not open here within 10s" })))
    assert.isFalse(NotAdmitted.isRefusal(new TaskError.TaskStoreError({ operation: "insert", detail: "connection reset" })))
    assert.isFalse(NotAdmitted.isRefusal(new TaskError.SubmitRejected({ kind: "scan", reason: "shutting-down" })))
    assert.isFalse(NotAdmitted.isRefusal(new TaskError.UnknownTaskKind({ kind: "submit" })))
  })

  it("a submission whose handler was interrupted before it recorded anything is a refusal too, told as such", () => {
    const interrupted = new NotAdmitted.SubmitInterrupted({ id: "task-2" })
    assert.isTrue(NotAdmitted.isRefusal(interrupted))
    assert.strictEqual(
      interrupted.message,
      "the submission of task task-2 was interrupted on its shard's owner before it was recorded (its shard moving); " +
        "nothing was recorded, submit again"
    )
    const error = NotAdmitted.toStoreError(interrupted)
    assert.deepStrictEqual([error.operation, error.detail, error.cause], ["submit", interrupted.message, interrupted])
  })
})
