/**
 * The committed final records of the tasks a supervisor finished last (one
 * whose write it gave up on is not kept: the store's record stands), kept after it
 * lets go of them so that a record just finished is read without the store
 * (`Tasks.peek`): at most `capacity`, the oldest pushed out first, and each
 * gone at once when its record is deleted (by id, purge or retention) — a
 * deleted task is never answered from here. The same bounded memory, by task
 * id, keeps the tasks whose final write a supervisor gave up on (`V`: the
 * id and the store's error), so that a later await tells that error.
 */
import type { TaskInfo } from "../TaskInfo.ts"

/** How many finished records a supervisor keeps by default. */
export const defaultCapacity = 4096

/** The latest final records (or what `V` keeps of a task), by task id, in the order they were added. */
export class RecentFinals<V extends { readonly id: string } = TaskInfo> {
  // A `Map` iterates in insertion order: its first key is the record kept longest.
  private readonly records = new Map<string, V>()
  private readonly capacity: number
  constructor(capacity: number = defaultCapacity) {
    this.capacity = capacity
  }

  /** Keeps `info`, a task's final record, pushing out the oldest past the capacity. */
  add(info: V): void {
    this.records.delete(info.id)
    this.records.set(info.id, info)
    if (this.records.size > this.capacity) this.records.delete(this.records.keys().next().value!)
  }

  /** The final record of task `id`, if kept. */
  get(id: string): V | undefined {
    return this.records.get(id)
  }

  /** Forgets task `id`'s record: it was deleted. */
  delete(id: string): void {
    this.records.delete(id)
  }

  /** How many records are kept now. */
  get size(): number {
    return this.records.size
  }
}
