/**
 * How the supervisor runs a task kind: limits, timing, retries, priority,
 * retention, and what happens to its tasks after a restart. Every field is
 * optional; `resolve` fills in the defaults documented here.
 *
 * @since 0.1.0
 */
import { Duration, Schedule } from "effect"

/** What a submission does when another task holds its exclusive key. */
export type OnConflict = "reject" | "join" | "queue"

/** Options of one submission: who submits it, and the policy choices a caller may override. */
export interface SubmitOptions {
  /** Overrides the kind's priority: higher runs first. */
  readonly priority?: number | undefined
  /** The principal submitting the task; recorded as its owner. */
  readonly owner?: string | undefined
  /** Overrides the kind's choice when another task holds the exclusive key. */
  readonly onConflict?: OnConflict | undefined
  /**
   * The task's id, chosen by the caller (a fresh UUID v7, `TaskInfo.makeId`, e.g. a
   * cluster router's that placed the task by its id); generated when omitted, and by `submitAll`.
   */
  readonly id?: string | undefined
  /**
   * Overrides the kind's time limit of one attempt, in milliseconds (a positive integer): the attempt fails with
   * reason `timeout` after it. Recorded with the task, so it holds after a restart too.
   */
  readonly timeoutMillis?: number | undefined
  /**
   * Overrides the kind's heartbeat timeout, in milliseconds (a positive integer): the task fails with reason
   * `heartbeat` after that long without a heartbeat or progress. Recorded with the task.
   */
  readonly heartbeatTimeoutMillis?: number | undefined
  /**
   * At most this many retries of a failed attempt (a whole number, 0: none), on the kind's retry schedule — or, for a
   * kind without one, 1 s apart and doubling. What the kind never retries (timeouts, missed heartbeats, its
   * `doNotRetry` errors) is not retried either. Recorded with the task.
   */
  readonly retries?: number | undefined
}

/** The policy of a task kind, as written in `Task.define`. */
export interface TaskPolicy<Payload = any, Error = any> {
  /** Time limit of one attempt; the attempt fails with reason `timeout`. Default: none. */
  readonly timeout?: Duration.Input | undefined
  /**
   * A running task silent for longer than this (no heartbeat, no progress) is
   * interrupted and fails with reason `heartbeat`. Default: none.
   */
  readonly heartbeatTimeout?: Duration.Input | undefined
  /**
   * Retries of failed attempts on `schedule`. Failures are retried except errors
   * whose `_tag` is listed in `doNotRetry`; defects are retried only with
   * `defects: true` (the schedule then sees them wrapped). Timeouts, missed
   * heartbeats and interruptions are never retried. Default: no retries.
   */
  readonly retry?: {
    readonly schedule: Schedule.Schedule<any, Error>
    readonly doNotRetry?: ReadonlyArray<string> | undefined
    readonly defects?: boolean | undefined
  } | undefined
  /** At most this many tasks of the kind run at once. Default: unlimited (the global limit applies). */
  readonly concurrency?: number | undefined
  /** Derives a concurrency key from the payload (e.g. the address a scan covers). Default: no key. */
  readonly key?: ((payload: Payload) => string) | undefined
  /** At most this many tasks with one key are unfinished at once. Default: 1 (exclusive). */
  readonly keyConcurrency?: number | undefined
  /** What a submission does when its key is taken; the caller may override it. Default: `queue`. */
  readonly onConflict?: OnConflict | undefined
  /** Higher runs first; the caller may override it. Default: 0. */
  readonly priority?: number | undefined
  /** How long a finished record is kept before the sweeper purges it. Default: 24 hours. */
  readonly retention?: Duration.Input | undefined
  /**
   * A task found running after a restart (its process died): `resume` runs it
   * again (attempt + 1) from its last checkpoint; `fail` records it as failed
   * with reason `lost`. A task stopped by a graceful shutdown is stored back as
   * `pending` for the next process with `resume`, and as `interrupted` with
   * `fail`. Default: `fail`.
   */
  readonly onRestart?: "resume" | "fail" | undefined
}

/** A policy with every default filled in, durations in milliseconds. */
export interface ResolvedPolicy {
  readonly timeoutMillis: number | undefined
  readonly heartbeatTimeoutMillis: number | undefined
  readonly retry: TaskPolicy["retry"]
  readonly concurrency: number
  readonly key: ((payload: any) => string) | undefined
  readonly keyConcurrency: number
  readonly onConflict: OnConflict
  readonly priority: number
  readonly retentionMillis: number
  readonly onRestart: "resume" | "fail"
}

/** The retries of a submission that caps them (`SubmitOptions.retries`) over its kind's retry policy, if any. */
export const retryAtMost = (retry: ResolvedPolicy["retry"], times: number): ResolvedPolicy["retry"] =>
  times === 0 ? undefined : {
    ...retry,
    schedule: (retry?.schedule ?? Schedule.exponential("1 second")).pipe(Schedule.upTo({ times }))
  }

/** The default retention of finished records: 24 hours. */
export const defaultRetention: Duration.Duration = Duration.hours(24)

const millis = (input: Duration.Input | undefined): number | undefined =>
  input === undefined ? undefined : Duration.toMillis(Duration.fromInputUnsafe(input))

/** Fills in the defaults of a policy. */
export const resolve = (policy: TaskPolicy = {}): ResolvedPolicy => ({
  timeoutMillis: millis(policy.timeout),
  heartbeatTimeoutMillis: millis(policy.heartbeatTimeout),
  retry: policy.retry,
  concurrency: policy.concurrency ?? Number.POSITIVE_INFINITY,
  key: policy.key,
  keyConcurrency: policy.keyConcurrency ?? 1,
  onConflict: policy.onConflict ?? "queue",
  priority: policy.priority ?? 0,
  retentionMillis: millis(policy.retention) ?? Duration.toMillis(defaultRetention),
  onRestart: policy.onRestart ?? "fail"
})
