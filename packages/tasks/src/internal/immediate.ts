/**
 * Store writes done at once. A store whose writes are complete when the call
 * returns (the memory store) marks its write functions with their synchronous
 * form, and the supervisor then writes without running an Effect per write (a
 * task's insert, running record and final record: no continuation, no step of
 * the run loop, no fiber for a task whose handler is done at once).
 *
 * The mark is on the function itself, not on the store: a store that wraps
 * another's write (a test's fault injection, a decorator) makes a function of
 * its own, unmarked, which is always run as the Effect it returns; one that
 * keeps the write as it is (`{ ...store, update }` keeps `insert`) keeps its
 * mark, rightly, since that write does the same.
 */
import { type Effect, Exit } from "effect"
import type { TaskStoreError } from "../TaskError.ts"
import type { TaskInfo } from "../TaskInfo.ts"

/** A write done at once: undefined when the record is stored, else why not (what the Effect would fail with). */
export type WriteNow = (info: TaskInfo) => TaskStoreError | undefined

/** A store's write of one record, as the `TaskStore` interface has it. */
type Write = (info: TaskInfo) => Effect.Effect<void, TaskStoreError>

const mark: unique symbol = Symbol.for("@chainjobs/tasks/WriteNow")

/** `write` marked with `now`, which does at once what running `write`'s Effect does. */
export const immediate = <F extends Write>(write: F, now: WriteNow): F => Object.assign(write, { [mark]: now })

/** The synchronous form of a store's write, if the store marked it (see `immediate`), else undefined. */
export const writeNow = (write: Write): WriteNow | undefined => (write as Write & { readonly [mark]?: WriteNow })[mark]

/**
 * Runs `now` on `info` and answers what running the marked write's Effect would have ended with: success, its refusal
 * as a failure, a throw as a defect.
 */
export const runNow = (now: WriteNow, info: TaskInfo): Exit.Exit<void, TaskStoreError> => {
  try {
    const refused = now(info)
    return refused === undefined ? Exit.void : Exit.fail(refused)
  } catch (defect) {
    return Exit.die(defect)
  }
}
