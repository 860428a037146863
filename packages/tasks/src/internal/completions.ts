/**
 * The final write of a task that ended, and its release once that write is
 * committed. Over a store with `updateAll`, a task's fiber queues its settled
 * record and ends at once; one writer per scheduler turn stores every record
 * queued since with one `updateAll` (one wait for all of them, no fiber and
 * no wait each) and releases each task once its record is committed. Over a
 * store without it, the task's fiber writes its record and waits itself.
 * Either way a record that could not be written is tried again alone a few
 * times, then the failure is logged and the task released as unrecorded (its
 * waiters and followers told the store's error); a task is never released
 * before its record was committed when it was. Over a store whose
 * `update` is done at once (see `immediate`), the write and the release are
 * done in the call: nothing is left for the task's fiber to run.
 */
import { Cause, type Context, Effect, Exit, Option, Schedule } from "effect"
import { TaskStoreError } from "../TaskError.ts"
import type { TaskStore } from "../TaskStore.ts"
import type { Entry } from "./entry.ts"
import { runNow, writeNow } from "./immediate.ts"

/** How often the final record of a task is written again before the failure is only logged. */
const finalWriteRetries = Schedule.exponential("100 millis").pipe(Schedule.upTo({ times: 5 }))

/** Writes the final records of tasks and releases them. */
export interface Completions {
  /**
   * Takes `entry`'s settled record (its `written`) to write, then release it; called
   * where the task's run has ended (not lazily). The effect returned is what the
   * task's fiber must still run: the write itself over a store without `updateAll`,
   * nothing over one with it (the batch writer writes and releases).
   */
  readonly complete: (entry: Entry) => Effect.Effect<void>
}

/**
 * Completions over `store`; `released` frees what a task held once its
 * record is written, or once its write was given up (`unrecorded`: the
 * store's error, for the task's waiters and followers); `context`: the supervisor's services, which the batch
 * writers run with (not the services of the task that happened to end first).
 */
export const make = (
  store: TaskStore["Service"],
  released: (entry: Entry, unrecorded?: TaskStoreError) => void,
  context: Context.Context<never>
): Completions => {
  /** `store.update` done at once, if the store does its writes so (see `immediate`). */
  const updateNow = writeNow(store.update)

  /** After a final record's first write failed: tried again if the store refused it, else given up. */
  const failedOnce = (entry: Entry, cause: Cause.Cause<TaskStoreError>): Effect.Effect<void> =>
    Cause.hasFails(cause) ? writeAgain(entry) : givenUp(entry, cause)

  /** `writeAlone` over a store whose update is done at once: written and released in the call, as the Effect would. */
  const writtenNow = (entry: Entry, update: NonNullable<typeof updateNow>): Effect.Effect<void> => {
    const written = runNow(update, entry.written)
    return Exit.isSuccess(written) ? committed(entry) : failedOnce(entry, written.cause)
  }

  /**
   * Writes one final record, then releases its task. The first write and its
   * outcome are one continuation (no exit value, no catch wrapper per task);
   * a write that failed is tried again a few times, then the failure is logged.
   */
  const writeAlone = (entry: Entry): Effect.Effect<void> =>
    updateNow !== undefined ? writtenNow(entry, updateNow) : Effect.matchCauseEffect(store.update(entry.written), {
      // one parameter: `matchCauseEffect` wraps a handler of another arity in a closure of its own
      onSuccess: (_: void) => committed(entry),
      onFailure: (cause) => failedOnce(entry, cause)
    })

  /** Writes a final record again on the retry schedule (its first write failed), then releases its task. */
  const writeAgain = (entry: Entry): Effect.Effect<void> =>
    Effect.matchCauseEffect(Effect.retry(store.update(entry.written), finalWriteRetries), {
      onSuccess: () => committed(entry),
      onFailure: (cause) => givenUp(entry, cause)
    })

  /** Releases a task whose settled record is committed. */
  const committed = (entry: Entry): Effect.Effect<void> => {
    entry.committed()
    released(entry)
    return Effect.void
  }

  /**
   * Releases a task whose final record could not be written, as unrecorded: with the store's last error (a write
   * that died, as a store error of its own), and logs why.
   */
  const givenUp = (entry: Entry, cause: Cause.Cause<TaskStoreError>): Effect.Effect<void> => {
    const error = Cause.findErrorOption(cause)
    released(
      entry,
      Option.isSome(error) ? error.value : new TaskStoreError({
        operation: "update",
        detail: `the final record of task ${entry.id} could not be written`,
        cause: Cause.squash(cause)
      })
    )
    return Effect.logError("chainjobs: could not record the outcome of task", entry.id, cause)
  }

  const updateAll = store.updateAll
  if (updateAll === undefined) return { complete: writeAlone }

  /** The tasks whose records wait for the next batch. */
  let queued: Array<Entry> = []

  /** Writes the queued records with one `updateAll`; the tasks it stored are released, the others written alone. */
  const flush: Effect.Effect<void> = Effect.suspend(() => {
    const batch = queued
    queued = []
    return Effect.flatMap(Effect.exit(updateAll(batch.map((entry) => entry.written))), (written) => {
      let failed: Array<Entry> | undefined
      for (let i = 0; i < batch.length; i++) {
        if (Exit.isSuccess(written) && written.value[i] === undefined) committed(batch[i])
        else (failed ??= []).push(batch[i])
      }
      return failed === undefined ? Effect.void : Effect.forEach(failed, writeAlone, { concurrency: "unbounded", discard: true })
    })
  })

  /** The batch writer: it yields first, so that every task ending in this turn of the scheduler joins its batch. */
  const writer = Effect.andThen(Effect.yieldNow, flush)
  const startWriter = Effect.runForkWith(context)

  return {
    complete: (entry) => {
      queued.push(entry)
      if (queued.length === 1) startWriter(writer, { uninterruptible: true })
      return Effect.void
    }
  }
}
