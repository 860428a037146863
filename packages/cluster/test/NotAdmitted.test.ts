/**
 * `NotAdmitted`, the owner's refusal of a submission before it recorded
 * anything: its message names the task, the shard and the wait, and once the
 * submission's tries ran out its caller is told the store-unavailable error
 * (`toStoreError`) with the refusal as its cause.
 */
import { assert, describe, it } from "@effect/vitest"
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
})
