/**
 * How a task's run ends, in one place: who may ask a task to stop
 * (`StopReason`), the ways a run can end (`Ending`), and the one pure function
 * from a run's `Exit` and the stop request to its ending. The attempt runner
 * records what `ending` says; nothing else reads a stop request.
 */
import { Cause, Duration, Exit, Option } from "effect"
import { TaskAborted } from "../TaskError.ts"
import type { ResolvedPolicy } from "../TaskPolicy.ts"

/** Who asked a running (or waiting) task to stop. */
export type StopReason =
  /** Its user, through `interrupt` or `delete`. */
  | { readonly _tag: "Interrupt" }
  /** The watchdog: no heartbeat within the kind's heartbeat timeout. */
  | { readonly _tag: "HeartbeatMissed" }
  /** The supervisor's shutdown, after the grace period. */
  | { readonly _tag: "Shutdown" }
  /** A hand-off: another process (the shard's next owner) takes the task over from its checkpoint. */
  | { readonly _tag: "HandOff" }

/** The user's request to stop. */
export const Interrupt: StopReason = { _tag: "Interrupt" }
/** The watchdog's request to stop. */
export const HeartbeatMissed: StopReason = { _tag: "HeartbeatMissed" }
/** The shutdown's request to stop. */
export const Shutdown: StopReason = { _tag: "Shutdown" }
/** A hand-off's request to stop. */
export const HandOff: StopReason = { _tag: "HandOff" }

/** How a task's run ended. */
export type Ending =
  /** The handler succeeded. */
  | { readonly _tag: "Completed"; readonly value: unknown }
  /** The handler failed with an error (the kind's typed error, if its Schema describes it). */
  | { readonly _tag: "Failed"; readonly error: unknown }
  /** The run was cut short: the kind's timeout or heartbeat timeout (or the handler passed on another task's abort). */
  | { readonly _tag: "Aborted"; readonly reason: "timeout" | "heartbeat" | "lost"; readonly message: string }
  /** The handler died (a defect). */
  | { readonly _tag: "Died"; readonly cause: Cause.Cause<unknown> }
  /** The run was interrupted: by its user, or by a shutdown of a kind that does not resume. */
  | { readonly _tag: "Interrupted" }
  /** A shutdown stopped a kind that resumes, or a hand-off any kind: the task waits for the next process, from its checkpoint. */
  | { readonly _tag: "Suspended" }

const interrupted: Ending = { _tag: "Interrupted" }
const suspended: Ending = { _tag: "Suspended" }
/** The ending of a handler that succeeded with nothing (most do): one object for all of them. */
const completedVoid: Ending = { _tag: "Completed", value: undefined }

/**
 * The ending of a run from its exit and the stop request it got, if any. A
 * success is a success whoever asked to stop; a failure after the watchdog's
 * request is a missed heartbeat; after a shutdown's, a resumable kind is
 * suspended; otherwise the cause tells.
 */
export const ending = (
  exit: Exit.Exit<unknown, unknown>,
  stop: StopReason | undefined,
  policy: ResolvedPolicy,
  /** The task's heartbeat timeout (its submission's, else its kind's), for the message of a missed heartbeat. */
  heartbeatTimeoutMillis: number | undefined = policy.heartbeatTimeoutMillis
): Ending => {
  if (Exit.isSuccess(exit)) return exit.value === undefined ? completedVoid : { _tag: "Completed", value: exit.value }
  if (stop?._tag === "HeartbeatMissed") {
    return {
      _tag: "Aborted",
      reason: "heartbeat",
      message: `no heartbeat for over ${Duration.format(Duration.millis(heartbeatTimeoutMillis ?? 0))}`
    }
  }
  if (stop?._tag === "Shutdown" && policy.onRestart === "resume") return suspended
  // handed off, whatever its kind: it stopped cleanly for another process to run it again
  if (stop?._tag === "HandOff") return suspended
  const found = Cause.findErrorOption(exit.cause)
  if (Option.isSome(found)) {
    const error = found.value
    if (error instanceof TaskAborted) return { _tag: "Aborted", reason: error.reason, message: error.detail }
    return { _tag: "Failed", error }
  }
  return Cause.hasDies(exit.cause) ? { _tag: "Died", cause: exit.cause } : interrupted
}
