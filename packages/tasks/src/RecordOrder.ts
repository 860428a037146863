/**
 * The order of one task's records: which of two is the later. A follower of a
 * task can hear its records by two paths that cross — the supervisor's
 * changes, which reach a feed through a queue (and, in a cluster, another
 * runner's through notifications: `ClusterFeed`), and reads (the record a
 * stream starts from, a re-read after a loss) — so a record can arrive after
 * a later one. A follower keeps the later record and drops an earlier one
 * that arrives after it.
 *
 * The order follows how the supervisor changes a record: a finished record
 * (completed, failed, interrupted) is the last; before it, a later attempt
 * is later (a retry, a resume after a hand-off or a crash each count one);
 * within an attempt `running` follows `pending`; within a running attempt the
 * later heartbeat (every progress report and checkpoint is one, stamped by
 * the clock of the one runner running the attempt) is the later record.
 *
 * @since 0.1.0
 */
import * as TaskInfo from "./TaskInfo.ts"

/** A record's place in its task's order, compared field by field (`compareRanks`). */
export type Rank = readonly [finished: number, attempt: number, status: number, heartbeat: number]

/** The rank of a deleted record: after every record of its task. */
export const deleted: Rank = [2, Infinity, Infinity, Infinity]

/** Where `info` stands among its task's records. */
export const rankOf = (info: TaskInfo.TaskInfo): Rank => [
  TaskInfo.isTerminal(info.status) ? 1 : 0,
  info.attempt,
  info.status === "pending" ? 0 : 1,
  info.heartbeatAt ?? -1
]

/** Negative when `a` comes before `b`, positive after, 0 when neither is known to be later. */
export const compareRanks = (a: Rank, b: Rank): number => {
  for (let i = 0; i < 4; i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]! ? -1 : 1
  }
  return 0
}

/** Negative when record `a` was written before record `b` of the same task, positive after, 0 when neither is known to be later. */
export const compare = (a: TaskInfo.TaskInfo, b: TaskInfo.TaskInfo): number => compareRanks(rankOf(a), rankOf(b))
