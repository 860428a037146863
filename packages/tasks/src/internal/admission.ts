/**
 * Admission: which waiting task may start now. It owns the pending queue
 * (priority, then FIFO), the running set with its per-kind and per-key
 * counters, and the holders of each key (unfinished tasks, in submission
 * order, for conflicts). Synchronous and free of effects, so the decision can
 * be tested on its own and one supervisor can keep one per owner of a share
 * of the tasks.
 */
import { PendingQueue } from "./PendingQueue.ts"
import { unshrinkingSet } from "./unshrinking.ts"

/** What admission reads of a task. */
export interface Admittable {
  /** The kind's name: per-kind limits count by it. */
  readonly kindName: string
  /** The key's slot (kind and key), or null for a task without a key. */
  readonly slot: string | null
  /** Higher starts first. */
  readonly priority: number
  /** At most this many tasks of the kind run at once. */
  readonly concurrency: number
  /** At most this many tasks of one key run at once, and are unfinished at once before a conflict. */
  readonly keyConcurrency: number
}

/** Counts by kind: a kind's count stays at 0 (kinds are few), so a kind whose tasks start and end one by one sets one slot, instead of adding and removing it each time. */
const count = (map: Map<string, number>, key: string, by: number) => {
  map.set(key, (map.get(key) ?? 0) + by)
}

/** Counts by key: a key's count goes at 0 (keys are many and come and go). */
const bump = (map: Map<string, number>, key: string, by: number) => {
  const n = (map.get(key) ?? 0) + by
  if (n === 0) map.delete(key)
  else map.set(key, n)
}

/** The admission state of one supervisor (or of one owner's share of its tasks). */
export class Admission<A extends Admittable> {
  private readonly pending = new PendingQueue<A>()
  /** The running tasks, after a placeholder (see `unshrinking`: a lone task's end makes no new table). */
  private readonly running = unshrinkingSet<A>()
  private readonly runningByKind = new Map<string, number>()
  private readonly runningByKey = new Map<string, number>()
  private readonly holders = new Map<string, Array<A>>()
  private open = true
  /** At most this many tasks run at once. */
  readonly maxWorkers: number

  constructor(maxWorkers: number) {
    this.maxWorkers = maxWorkers
  }

  /** Tasks waiting to start. */
  get pendingCount(): number {
    return this.pending.size
  }
  /** Tasks running. */
  get runningCount(): number {
    return this.running.size - 1
  }
  /** True until `close`: tasks are admitted. */
  get isOpen(): boolean {
    return this.open
  }
  /**
   * True if a task of kind `kindName` (at most `concurrency` of it at once) would find a worker free now: admission
   * open, fewer tasks running and waiting than workers, and its kind under its limit. What `Tasks.freeWorker` reads,
   * `stats`' counts without building them.
   */
  hasFreeWorker(kindName: string, concurrency: number): boolean {
    return this.open && this.runningCount + this.pending.size < this.maxWorkers &&
      (this.runningByKind.get(kindName) ?? 0) < concurrency
  }
  /** Running tasks per kind. */
  runningByKindRecord(): Record<string, number> {
    const record: Record<string, number> = {}
    for (const [kind, n] of this.runningByKind) if (n > 0) record[kind] = n
    return record
  }
  /** The running tasks, as a fresh array. */
  runningTasks(): Array<A> {
    return Array.from(this.running).slice(1)
  }

  /** The task holds its key from now until `unhold`: later submissions of the key see it. */
  hold(task: A): void {
    if (task.slot === null) return
    const list = this.holders.get(task.slot)
    if (list === undefined) this.holders.set(task.slot, [task])
    else list.push(task)
  }

  /** The task no longer holds its key. */
  unhold(task: A): void {
    if (task.slot === null) return
    const list = this.holders.get(task.slot)
    if (list === undefined) return
    const index = list.indexOf(task)
    if (index >= 0) list.splice(index, 1)
    if (list.length === 0) this.holders.delete(task.slot)
  }

  /** The first holder of `slot` when `limit` tasks already hold it (a conflict), else undefined. */
  conflict(slot: string | null, limit: number): A | undefined {
    if (slot === null) return undefined
    const list = this.holders.get(slot)
    return list !== undefined && list.length >= limit ? list[0] : undefined
  }

  /** The task waits to start, behind every waiting task of its priority. */
  enqueue(task: A): void {
    this.pending.push(task, task.priority)
  }

  /** Takes a waiting task out of the queue; true if it was waiting. */
  withdraw(task: A): boolean {
    return this.pending.remove(task, task.priority)
  }

  /**
   * The next task to start, counted as running from now, or undefined when
   * admission is closed, every worker is busy, or no waiting task's kind and
   * key are under their limits. Tasks at a limit keep their place.
   */
  next(): A | undefined {
    if (!this.open || this.runningCount >= this.maxWorkers || this.pending.size === 0) return undefined
    const task = this.pending.take(this.canStart)
    if (task !== undefined) this.started(task)
    return task
  }

  /**
   * True if a task of kind `kindName` and key slot `slot`, not queued, may
   * start at once: admission is open, a worker is free, no task waits (so it
   * jumps no queue) and its kind and key are under their limits. Asked before
   * the task is made, so that it is made as it starts (recorded running at
   * once); `started` then counts it.
   */
  mayStartNow(kindName: string, slot: string | null, concurrency: number, keyConcurrency: number): boolean {
    return this.open && this.runningCount < this.maxWorkers && this.pending.size === 0 &&
      this.underLimits(kindName, slot, concurrency, keyConcurrency)
  }

  /** Counts a task that `mayStartNow` let start as running from now. */
  started(task: A): void {
    this.running.add(task)
    count(this.runningByKind, task.kindName, 1)
    if (task.slot !== null) bump(this.runningByKey, task.slot, 1)
  }

  private underLimits(kindName: string, slot: string | null, concurrency: number, keyConcurrency: number): boolean {
    if ((this.runningByKind.get(kindName) ?? 0) >= concurrency) return false
    return slot === null || (this.runningByKey.get(slot) ?? 0) < keyConcurrency
  }

  private readonly canStart = (task: A): boolean =>
    this.underLimits(task.kindName, task.slot, task.concurrency, task.keyConcurrency)

  /** A running task stopped: its worker, kind and key counts are free. False if it was not running. */
  stopped(task: A): boolean {
    if (!this.running.delete(task)) return false
    count(this.runningByKind, task.kindName, -1)
    if (task.slot !== null) bump(this.runningByKey, task.slot, -1)
    return true
  }

  /** Stops admitting: `next` returns nothing from now on. */
  close(): void {
    this.open = false
  }

  /** Removes and returns every waiting task, in order. */
  drain(): Array<A> {
    return this.pending.drain()
  }
}
