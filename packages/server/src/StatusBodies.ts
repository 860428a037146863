/**
 * The encoded status answers (`GET /api/tasks/:id`) of finished tasks, kept
 * by the hot reads (`HotReads`): a finished task's record no longer changes,
 * so it is encoded once, not at every read. Bounded: at most `capacity`
 * bodies, the least recently read pushed out first.
 *
 * An entry stands for one record object — the one the supervisor holds for
 * the task (`Tasks.peek`) — and is served only for that same object: once the
 * task is deleted (by id, purge or retention) the supervisor no longer holds
 * its record, the read goes past the cache, and the entry is dropped. The
 * cache knows nothing of principals: the caller checks that the asker may
 * see the record before asking for its body, so another principal is
 * answered as for a missing task, never with a kept body.
 *
 * @since 0.1.0
 */
import type { TaskInfo } from "@chainjobs/tasks"

/** How many finished tasks' bodies a hot-read front keeps by default. */
export const defaultCapacity = 4096

/** The kept bodies of finished tasks' records, by task id. */
export class StatusBodies {
  // A `Map` iterates in insertion order: a read moves its entry to the end, so the first key is the least recently read.
  private readonly bodies = new Map<string, { readonly info: TaskInfo.TaskInfo; readonly body: string }>()
  private readonly capacity: number
  constructor(capacity: number = defaultCapacity) {
    this.capacity = capacity
  }

  /** The body of `info`, a finished task's record: the kept one if it was made from this same record, else `encode`'s, kept. */
  bodyOf(info: TaskInfo.TaskInfo, encode: (info: TaskInfo.TaskInfo) => string): string {
    const kept = this.bodies.get(info.id)
    if (kept !== undefined) this.bodies.delete(info.id)
    const entry = kept !== undefined && kept.info === info ? kept : { info, body: encode(info) }
    this.bodies.set(info.id, entry)
    if (this.bodies.size > this.capacity) this.bodies.delete(this.bodies.keys().next().value!)
    return entry.body
  }

  /** Drops task `id`'s body: its record is not held any more (deleted, or pushed out of the supervisor's memory). */
  forget(id: string): void {
    this.bodies.delete(id)
  }

  /** How many bodies are kept now. */
  get size(): number {
    return this.bodies.size
  }
}
