/**
 * What the supervisor holds of a task while it lives in this process, and of
 * a registered kind. An `Entry` owns the task's record: every change to it —
 * submission, start of an attempt, progress, heartbeat, checkpoint, outcome —
 * is a method here, and nothing else assigns it. Writing the record to the
 * store and telling followers stay with the callers, which know whether a
 * change is durable.
 */
import type { Cause, Context, Deferred, Effect, Fiber, Queue } from "effect"
import type { Any } from "../TaskKind.ts"
import { isTerminal, type TaskInfo } from "../TaskInfo.ts"
import { type ResolvedPolicy, retryAtMost } from "../TaskPolicy.ts"
import type * as codec from "./codec.ts"
import type { StopReason } from "./stop.ts"

/** A registered kind: its handler, codec, and the services its task fibers run with. */
export interface Registered {
  readonly kind: Any
  readonly handler: (payload: any, context: any) => Effect.Effect<unknown, unknown, any>
  readonly codec: codec.KindCodec
  /** The supervisor's services merged with the handler's: what the task fibers of the kind run with. */
  readonly context: Context.Context<never>
}

/**
 * A task's final record once this process committed it, shared by the task's entry and the handles made at its
 * submission: a record that never changes again, so those handles answer `await` with it, without a store read.
 * The handles keep this small object, not the entry (nor the entry them, which a running task would keep alive).
 */
export class FinalRecord {
  /** The committed final record; undefined until then. */
  info: TaskInfo | undefined = undefined
}

/** The slot of a key in the limit maps: kind and key, so that kinds never share keys. */
export const slotOf = (kind: string, key: string | null): string | null => (key === null ? null : `${kind}\u0000${key}`)

/** A task the supervisor holds in memory: from submission (or recovery) until it has finished here. */
export class Entry {
  private record: TaskInfo
  /** The kind and handler the task runs with. */
  readonly registered: Registered
  /** The decoded payload. */
  readonly payload: unknown
  /** The key's slot in the limit maps (kind and key), or null for a task without a key. */
  readonly slot: string | null
  /** The task's fiber, from its start (only ever interrupted: its outcome is recorded by the fiber itself). */
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** Waiters on the final record, made on first use. */
  done: Deferred.Deferred<TaskInfo> | undefined = undefined
  /** The queues of `watch` streams following this task, made on first use. */
  listeners: Set<Queue.Queue<TaskInfo, Cause.Done>> | undefined = undefined
  /** Who asked the task to stop, if anyone did: the first request wins (see `stop`). */
  stoppedBy: StopReason | undefined = undefined
  /** True while the task waits out a retry delay: the watchdog leaves it alone then. */
  backingOff = false
  /** Where the handles made at the task's submission find its final record (none for a task taken back). */
  final: FinalRecord | undefined = undefined

  /** `slot`: the key's slot when the caller made it already (else made here). */
  constructor(info: TaskInfo, registered: Registered, payload: unknown, slot: string | null = slotOf(info.kind, info.key)) {
    this.record = info
    this.registered = registered
    this.payload = payload
    this.slot = slot
  }

  /** The task's record as it stands. */
  get info(): TaskInfo {
    return this.record
  }
  /** The task's id. */
  get id(): string {
    return this.record.id
  }
  /** The kind's name (what per-kind limits count). */
  get kindName(): string {
    return this.record.kind
  }
  /** The task's priority (higher first). */
  get priority(): number {
    return this.record.priority
  }
  /** At most this many tasks of the kind run at once. */
  get concurrency(): number {
    return this.registered.kind.policy.concurrency
  }
  /** The time limit of one attempt, in milliseconds: the submission's, else the kind's (none: no limit). */
  get timeoutMillis(): number | undefined {
    return this.record.timeoutMillis ?? this.registered.kind.policy.timeoutMillis
  }
  /** How long the task may stay silent, in milliseconds: the submission's, else the kind's (none: no watchdog). */
  get heartbeatTimeoutMillis(): number | undefined {
    return this.record.heartbeatTimeoutMillis ?? this.registered.kind.policy.heartbeatTimeoutMillis
  }
  /** The retries of the task: its kind's policy, capped by the submission's `retries` (made once, on first use). */
  get retry(): ResolvedPolicy["retry"] {
    if (this.record.retries === undefined) return this.registered.kind.policy.retry
    if (this.cappedRetry === undefined) this.cappedRetry = { retry: retryAtMost(this.registered.kind.policy.retry, this.record.retries) }
    return this.cappedRetry.retry
  }
  private cappedRetry: { readonly retry: ResolvedPolicy["retry"] } | undefined = undefined
  /** At most this many tasks of one key run (or are unfinished, for conflicts) at once. */
  get keyConcurrency(): number {
    return this.registered.kind.policy.keyConcurrency
  }

  /**
   * Asks the task to stop for `reason`: the first request is kept (a task
   * stopped by its user and then by the shutdown ends as the user asked) and
   * its fiber, if it runs, is interrupted. False if a request came before.
   */
  stop(reason: StopReason): boolean {
    if (this.stoppedBy !== undefined) return false
    this.stoppedBy = reason
    this.fiber?.interruptUnsafe()
    return true
  }

  /** An attempt begins at `at`: running, heartbeat now; `retry` counts a new attempt. */
  markRunning(at: number, retry: boolean): TaskInfo {
    this.backingOff = false
    return this.record = asRunning(this.record, at, retry)
  }

  /**
   * The first attempt begins at `at` with `record`, already stored as it (`asRunning` of the entry's pending record,
   * made at submission; the entry held it pending until now, so that readers never saw it running before it ran):
   * the entry holds that record, its heartbeat counted from `at` — the insert before the start (however slow) is no
   * silence of the attempt's.
   */
  adoptRunning(record: TaskInfo, at: number): TaskInfo {
    this.backingOff = false
    return this.record = record.heartbeatAt === null || record.heartbeatAt >= at ? record : { ...record, heartbeatAt: at }
  }

  /** Progress reported at `at`: percent clamped to 0–100; what is not given keeps its value. Counts as a heartbeat. */
  markProgress(percent: number, message: string | undefined, detail: unknown, at: number): TaskInfo {
    const info = this.record
    return this.record = {
      ...info,
      progress: Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0)),
      message: message ?? info.message,
      detail: detail === undefined ? info.detail : detail,
      heartbeatAt: at
    }
  }

  /** A heartbeat at `at`. */
  markAlive(at: number): void {
    this.record = { ...this.record, heartbeatAt: at }
  }

  /** A checkpoint saved at `at` (counts as a heartbeat). */
  markCheckpoint(state: unknown, at: number): TaskInfo {
    return this.record = { ...this.record, checkpoint: state ?? null, heartbeatAt: at }
  }

  /** The record as settled is committed: a terminal one is final, and goes where the submission's handles find it. */
  committed(): void {
    if (this.final !== undefined && isTerminal(this.record.status)) this.final.info = this.record
  }

  /**
   * The task's outcome at `at`. A terminal one is kept for the kind's
   * retention; a `pending` one (a resumable task stopped by a shutdown) waits
   * for the next process as its next attempt.
   */
  settle(outcome: codec.Outcome, at: number): TaskInfo {
    const info = this.record
    const finished = outcome.status !== "pending"
    // One spread and named fields: a second spread would be a generic copy, slower than setting five fields.
    return this.record = {
      ...info,
      status: outcome.status,
      reason: outcome.reason,
      result: outcome.result,
      error: outcome.error,
      errorMessage: outcome.errorMessage,
      attempt: finished ? info.attempt : info.attempt + 1,
      finishedAt: finished ? at : null,
      expiresAt: finished ? at + this.registered.kind.policy.retentionMillis : null
    }
  }
}

/**
 * `info` as an attempt beginning at `at` makes it: running, heartbeat now;
 * `retry` counts a new attempt. What `Entry.markRunning` records, and what a
 * task that starts at once is inserted as.
 */
export const asRunning = (info: TaskInfo, at: number, retry: boolean): TaskInfo => ({
  ...info,
  status: "running",
  attempt: retry ? info.attempt + 1 : info.attempt,
  startedAt: info.startedAt ?? at,
  heartbeatAt: at
})

/** A record found unfinished at start, taken back: a running one becomes pending as its next attempt. */
export const resumed = (info: TaskInfo): TaskInfo =>
  info.status === "running" ? { ...info, status: "pending", attempt: info.attempt + 1 } : info

/** A record found unfinished at start that cannot resume: failed as `lost`, kept for the kind's retention. */
export const lost = (info: TaskInfo, kind: Any, errorMessage: string, at: number): TaskInfo => ({
  ...info,
  status: "failed",
  reason: "lost",
  errorMessage,
  finishedAt: at,
  expiresAt: at + kind.policy.retentionMillis
})
