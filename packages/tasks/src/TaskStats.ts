/**
 * What the supervisor holds right now: counts only, the answer of
 * `Tasks.stats`, and as a Schema what the REST and RPC facades send.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** Counts of what the supervisor holds right now. */
export const TaskStats = Schema.Struct({
  /** Tasks waiting for a worker. */
  pending: Schema.Number,
  /** Tasks running. */
  running: Schema.Number,
  /** At most this many run at once. */
  maxWorkers: Schema.Number,
  /** Running tasks per kind. */
  runningByKind: Schema.Record(Schema.String, Schema.Number),
  /** False once a shutdown began: new tasks are refused. */
  accepting: Schema.Boolean
})
/** @see TaskStats */
export type TaskStats = typeof TaskStats.Type
