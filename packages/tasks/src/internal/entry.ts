/**
 * What the supervisor holds of a task while it lives in this process, and of
 * a registered kind. An `Entry` owns the task's record: every change to it —
 * submission, start of an attempt, progress, heartbeat, checkpoint, outcome —
 * is a method here, and nothing else assigns it. Writing the record to the
 * store and telling followers stay with the callers, which know whether a
 * change is durable.
 */
import type { Cause, Context, Deferred, Effect, Fiber, Queue } from "effect"
import type { TaskStoreError } from "../TaskError.ts"
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

/**
 * A task the supervisor holds in memory: from submission (or recovery) until it has finished here.
 *
 * One record object per state change: a task that may start at once is made running (the record it is inserted
 * with) and only that object is kept; until its handler starts, `info` shows it as the pending record it stands for,
 * made when read. A heartbeat changes no object: its time is kept beside the record, and goes into the next record
 * made (read through `info`, a progress report, a checkpoint, the outcome).
 */
export class Entry {
  private record: TaskInfo
  /**
   * Where the task's run stands, in one field (an idle task holds many): `inserted` from the admission of a task
   * inserted running until its handler starts (or it is let go unstarted); `backingOff` while it waits out a retry
   * delay; `live` otherwise.
   */
  private phase: "inserted" | "live" | "backingOff"
  /** A heartbeat later than `record.heartbeatAt`, not yet in a record; undefined when there is none. */
  private aliveAt: number | undefined = undefined
  /**
   * While the settled record's write is in flight (from `settle` until `committed`, or until the task is let go):
   * the record readers saw before it, which they keep seeing — an outcome is told once the store took it. Undefined
   * otherwise.
   */
  private shown: TaskInfo | undefined = undefined
  /** The kind and handler the task runs with. */
  readonly registered: Registered
  /** The decoded payload. */
  readonly payload: unknown
  /** The key's slot in the limit maps (kind and key), or null for a task without a key. */
  readonly slot: string | null
  /** The task's fiber, from its start (only ever interrupted: its outcome is recorded by the fiber itself). */
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** Waiters on the final record (failed with the store's error when its write was given up), made on first use. */
  done: Deferred.Deferred<TaskInfo, TaskStoreError> | undefined = undefined
  /** The queues of `watch` streams following this task (failed as `done`), made on first use. */
  listeners: Set<Queue.Queue<TaskInfo, TaskStoreError | Cause.Done>> | undefined = undefined
  /** Who asked the task to stop, if anyone did: the first request wins (see `stop`). */
  stoppedBy: StopReason | undefined = undefined
  /** Where the handles made at the task's submission find its committed final record (made at the commit for a task taken back). */
  final: FinalRecord | undefined = undefined

  /**
   * `info`: the task's record — for a task inserted running at its submission (`insertedRunning`), that running
   * record (see `asRunning`), shown pending until the handler starts. `slot`: the key's slot when the caller made it
   * already (else made here).
   */
  constructor(
    info: TaskInfo,
    registered: Registered,
    payload: unknown,
    slot: string | null = slotOf(info.kind, info.key),
    insertedRunning = false
  ) {
    this.record = info
    this.registered = registered
    this.payload = payload
    this.slot = slot
    this.phase = insertedRunning ? "inserted" : "live"
  }

  /**
   * The task's record as readers see it: pending until a task inserted running starts, with its last heartbeat; once
   * settled, the record before until the settled one is committed (see `shown`).
   */
  get info(): TaskInfo {
    if (this.shown !== undefined) return this.shown
    if (this.phase === "inserted") return asPending(this.record)
    if (this.aliveAt !== undefined) {
      this.record = { ...this.record, heartbeatAt: this.aliveAt }
      this.aliveAt = undefined
    }
    return this.record
  }
  /**
   * The record as made, to be written: a task inserted running is inserted with it (its `info` still reads pending);
   * a settled one is written with it (its `info` still reads the record before).
   */
  get written(): TaskInfo {
    return this.record
  }
  /** True from the admission of a task inserted running until its handler starts: its running record is stored already. */
  get insertedRunning(): boolean {
    return this.phase === "inserted"
  }
  /** True while the task waits out a retry delay: the watchdog leaves it alone then. */
  get backingOff(): boolean {
    return this.phase === "backingOff"
  }
  /** An attempt failed and the task waits out its retry delay (until the next attempt begins). */
  backOff(): void {
    this.phase = "backingOff"
  }
  /** The task's last sign of life, for the watchdog: none before it started. */
  get heartbeatAt(): number | null {
    return this.phase === "inserted" ? null : this.aliveAt ?? this.record.heartbeatAt
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
  /**
   * The retries of the task: its kind's policy, capped by the submission's `retries` — made on each read for a
   * submission that caps them, so that no entry holds a field for it: read once, when the task starts, and handed to
   * its attempts.
   */
  get retry(): ResolvedPolicy["retry"] {
    const retries = this.record.retries
    return retries === undefined ? this.registered.kind.policy.retry : retryAtMost(this.registered.kind.policy.retry, retries)
  }
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
    this.phase = "live"
    this.aliveAt = undefined
    return this.record = asRunning(this.record, at, retry)
  }

  /**
   * The first attempt of a task inserted running begins at `at`: the entry shows the running record it holds from
   * now on (readers never saw it running before it ran), its heartbeat counted from `at` — the insert before the
   * start (however slow) is no silence of the attempt's. No record is made: the stored one stands.
   */
  startInserted(at: number): void {
    this.phase = "live"
    const heartbeatAt = this.record.heartbeatAt
    if (heartbeatAt !== null && heartbeatAt < at) this.aliveAt = at
  }

  /** Progress reported at `at`: percent clamped to 0–100; what is not given keeps its value. Counts as a heartbeat. */
  markProgress(percent: number, message: string | undefined, detail: unknown, at: number): TaskInfo {
    const info = this.record
    this.aliveAt = undefined
    return this.record = {
      ...info,
      progress: Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0)),
      message: message ?? info.message,
      detail: detail === undefined ? info.detail : detail,
      heartbeatAt: at
    }
  }

  /** A heartbeat at `at` (kept beside the record: no record is made for it). */
  markAlive(at: number): void {
    if (this.phase !== "inserted") this.aliveAt = at
  }

  /** A checkpoint saved at `at` (counts as a heartbeat). */
  markCheckpoint(state: unknown, at: number): TaskInfo {
    this.aliveAt = undefined
    return this.record = { ...this.record, checkpoint: state ?? null, heartbeatAt: at }
  }

  /**
   * The record as settled is committed: a terminal one is final, and goes where the submission's handles find it
   * (`final`, made here for a task taken back, which has no such handles): a final record there is one the store took.
   */
  committed(): void {
    this.shown = undefined
    if (isTerminal(this.record.status)) (this.final ??= new FinalRecord()).info = this.record
  }

  /**
   * The task is let go, whatever became of its settled record's write: readers (its waiters, its followers) see
   * that record from now on.
   */
  letGo(): void {
    this.shown = undefined
  }

  /**
   * The task's outcome at `at`. A terminal one is kept for the kind's
   * retention; a `pending` one (a resumable task stopped by a shutdown) waits
   * for the next process as its next attempt. Readers see it once it is
   * committed (`committed`) or the task is let go (`letGo`); it is `written`.
   */
  settle(outcome: codec.Outcome, at: number): TaskInfo {
    // A task that never started settles from the pending record it stood for.
    const info = this.phase === "inserted" ? asPending(this.record) : this.record
    const heartbeatAt = this.aliveAt ?? info.heartbeatAt
    // readers keep the record they would have read until this one is committed (a record made only for a heartbeat)
    this.shown = heartbeatAt === info.heartbeatAt ? info : { ...info, heartbeatAt }
    this.phase = "live"
    this.aliveAt = undefined
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
      heartbeatAt,
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

/** The pending record a running one made by `asRunning` at submission (first attempt) stands for, until it starts. */
const asPending = (info: TaskInfo): TaskInfo => ({ ...info, status: "pending", startedAt: null, heartbeatAt: null })

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
