/** How a run ends, from its exit and the stop request it got: the one function the attempt runner records. */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Exit, Schema } from "effect"
import { ending, HandOff, HeartbeatMissed, Interrupt, Shutdown, type StopReason } from "../src/internal/stop.ts"
import { TaskAborted } from "../src/TaskError.ts"
import * as TaskPolicy from "../src/TaskPolicy.ts"
import { Boom } from "./fixtures.ts"

const resumes = TaskPolicy.resolve({ onRestart: "resume", heartbeatTimeout: "30 seconds" })
const fails = TaskPolicy.resolve({ onRestart: "fail", heartbeatTimeout: "30 seconds" })
const stops: ReadonlyArray<StopReason | undefined> = [undefined, Interrupt, HeartbeatMissed, Shutdown]

describe("ending", () => {
  it.prop("a success is a completion whoever asked to stop", { value: Schema.Unknown, stop: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })) }, ({ stop, value }) => {
    for (const policy of [resumes, fails]) {
      assert.deepStrictEqual(ending(Exit.succeed(value), stops[stop], policy), { _tag: "Completed", value })
    }
  })

  it("a failure after the watchdog's request is a missed heartbeat, whatever the cause", () => {
    for (const exit of [Exit.interrupt(), Exit.fail(new Boom({ message: "x" })), Exit.die("boom")]) {
      assert.deepStrictEqual(ending(exit, HeartbeatMissed, fails), {
        _tag: "Aborted",
        reason: "heartbeat",
        message: "no heartbeat for over 30s"
      })
    }
  })

  it("a shutdown suspends a kind that resumes and interrupts one that does not", () => {
    assert.deepStrictEqual(ending(Exit.interrupt(), Shutdown, resumes), { _tag: "Suspended" })
    assert.deepStrictEqual(ending(Exit.interrupt(), Shutdown, fails), { _tag: "Interrupted" })
    assert.deepStrictEqual(ending(Exit.interrupt(), Interrupt, resumes), { _tag: "Interrupted" })
  })

  it("a hand-off suspends a run that did not succeed, of any kind: another process runs it again", () => {
    for (const policy of [resumes, fails]) {
      for (const exit of [Exit.interrupt(), Exit.fail(new Boom({ message: "x" }))]) {
        assert.deepStrictEqual(ending(exit, HandOff, policy), { _tag: "Suspended" })
      }
      assert.deepStrictEqual(ending(Exit.succeed(1), HandOff, policy), { _tag: "Completed", value: 1 })
    }
  })

  it("otherwise the cause tells: typed error, abort, defect, interruption", () => {
    const boom = new Boom({ message: "no luck" })
    assert.deepStrictEqual(ending(Exit.fail(boom), undefined, fails), { _tag: "Failed", error: boom })
    const timeout = new TaskAborted({ id: "t", reason: "timeout", detail: "timed out after 1s" })
    assert.deepStrictEqual(ending(Exit.fail(timeout), undefined, fails), {
      _tag: "Aborted",
      reason: "timeout",
      message: "timed out after 1s"
    })
    const died = Exit.die(new Error("bad"))
    const result = ending(died, Interrupt, fails)
    assert.strictEqual(result._tag, "Died")
    assert.isTrue(result._tag === "Died" && Cause.hasDies(result.cause))
    assert.deepStrictEqual(ending(Exit.interrupt(), undefined, fails), { _tag: "Interrupted" })
  })
})
