/**
 * Which `INSERT` a PostgreSQL batch's new records go as: plain, or with
 * `ON CONFLICT DO NOTHING` ("checked").
 *
 * A plain insert spares every row the speculative insertion of `ON CONFLICT`
 * (a primary-key probe before the row, a second WAL record confirming it),
 * but when it meets an id that exists the whole statement fails: every row
 * written before the conflict is left dead in the heap and in each index, and
 * the batch is written again checked. Which is cheaper depends on how often a
 * batch meets an existing id, so `adaptive` keeps a running share of the
 * recent batches that did (each batch weighing `weight`) and inserts plain
 * while that share is under `threshold`. Both ways tell whether a batch met
 * one (a plain one fails, a checked one answers the ids it did not store), so
 * a run of duplicates keeps the store on checked inserts without paying a
 * failed plain statement to find out, and a lone duplicate now and then
 * leaves it on plain ones. Each time `adaptive` turns from one way to the
 * other it logs so (at info level) with the share that turned it: an
 * operator sees when duplicate submissions start or stop costing inserts.
 */
import { Effect, Schema } from "effect"

/**
 * How a PostgreSQL store inserts new records: `plain` first (written again
 * checked when a batch met an existing id), always `checked`, or `adaptive`
 * (by the recent share of batches meeting an existing id).
 */
export const InsertMode = Schema.Literals(["adaptive", "plain", "checked"])
/** @see InsertMode */
export type InsertMode = typeof InsertMode.Type

const modes: ReadonlyArray<string> = InsertMode.literals

/** The `pgInserts` setting is none of the modes: nothing was started. */
export class InsertPolicyConfigError extends Schema.TaggedError<InsertPolicyConfigError>(
  "@chainjobs/store-sql/InsertPolicyConfigError"
)("InsertPolicyConfigError", {
  /** The value given, as text. */
  value: Schema.String
}) {
  override get message(): string {
    return `pgInserts must be one of ${modes.join(", ")}, not ${this.value}`
  }
}

/** The weight of the latest batch in `adaptive`'s running share: one batch meeting an existing id alone stays under the threshold. */
export const weight = 1 / 8

/**
 * The share of batches meeting an existing id above which `adaptive` inserts
 * checked. For batches of 1,000 the two ways cost the PostgreSQL server the
 * same at 0.23 to 0.66 (three runs of `npm run bench -- duplicates`, load
 * 11–20: a clean batch spared 3.3–6.3 ms of server CPU per 1,000 rows going
 * plain, one meeting an existing id cost 9.2–14.5 more); the threshold sits
 * below that because a failed plain insert also leaves its rows for vacuum,
 * which those figures do not count.
 */
export const threshold = 1 / 6

/** One store's choice; `plain` asks, `written` tells what a batch met. */
export interface InsertPolicy {
  /** True when the next batch's new records should go as a plain `INSERT`. */
  readonly plain: () => boolean
  /** Records what a written batch's inserts met: an existing id or not; logs when that turns `adaptive` the other way. */
  readonly written: (metExisting: boolean) => Effect.Effect<void>
}

/** The info line `adaptive` logs when `share` turned it to inserting `plain` or `checked`. */
const switched = (plain: boolean, share: number) =>
  Effect.logInfo(
    `store-sql: PostgreSQL inserts now ${plain ? "plain" : "checked"}: ${
      (share * 100).toFixed(1)
    }% of recent batches met an existing id (${plain ? "under" : "at or over"} ${(threshold * 100).toFixed(1)}%)`
  ).pipe(Effect.annotateLogs({ pgInserts: plain ? "plain" : "checked", share }))

/** The policy of `mode` (default `adaptive`); fails, before anything starts, on an unknown one. */
export const make = (mode: InsertMode = "adaptive"): Effect.Effect<InsertPolicy, InsertPolicyConfigError> => {
  if (!modes.includes(mode)) return Effect.fail(new InsertPolicyConfigError({ value: String(mode) }))
  return Effect.sync((): InsertPolicy => {
    if (mode !== "adaptive") return { plain: () => mode === "plain", written: () => Effect.void }
    /** The running share of recent batches that met an existing id. */
    let share = 0
    return {
      plain: () => share < threshold,
      // the share moves when the returned effect runs, once per run: building it changes nothing
      written: (metExisting) =>
        Effect.suspend(() => {
          const before = share < threshold
          share += ((metExisting ? 1 : 0) - share) * weight
          const after = share < threshold
          return before === after ? Effect.void : switched(after, share)
        })
    }
  })
}
