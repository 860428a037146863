/**
 * The waiting room of the supervisor: tasks ordered by priority (higher
 * first) and, within one priority, by arrival (FIFO). `take` hands out the
 * first task that may start now, skipping (and keeping in place) tasks whose
 * kind or key is at its limit.
 */

/** One FIFO lane per priority; removed items leave holes that are skipped and compacted. */
interface Lane<A> {
  readonly priority: number
  items: Array<A | undefined>
  head: number
  size: number
}

/** A priority queue, FIFO within one priority, with removal and conditional take. */
export class PendingQueue<A> {
  private lanes: Array<Lane<A>> = []
  private total = 0

  /** How many items wait. */
  get size(): number {
    return this.total
  }

  /** Adds an item behind every other item of its priority. */
  push(item: A, priority: number): void {
    let lane = this.lanes.find((lane) => lane.priority === priority)
    if (lane === undefined) {
      lane = { priority, items: [], head: 0, size: 0 }
      this.lanes.push(lane)
      this.lanes.sort((a, b) => b.priority - a.priority)
    }
    lane.items.push(item)
    lane.size++
    this.total++
  }

  /** Removes and returns the first item that `canStart` accepts, or undefined. */
  take(canStart: (item: A) => boolean): A | undefined {
    for (const lane of this.lanes) {
      if (lane.size === 0) continue
      for (let i = lane.head; i < lane.items.length; i++) {
        const item = lane.items[i]
        if (item === undefined || !canStart(item)) continue
        this.removeAt(lane, i)
        return item
      }
    }
    return undefined
  }

  /** Removes an item wherever it waits; true if it was there. */
  remove(item: A, priority: number): boolean {
    const lane = this.lanes.find((lane) => lane.priority === priority)
    if (lane === undefined) return false
    const index = lane.items.indexOf(item, lane.head)
    if (index < 0) return false
    this.removeAt(lane, index)
    return true
  }

  /** Removes and returns every waiting item, in order. */
  drain(): Array<A> {
    const all: Array<A> = []
    for (const lane of this.lanes) {
      for (let i = lane.head; i < lane.items.length; i++) {
        const item = lane.items[i]
        if (item !== undefined) all.push(item)
      }
    }
    this.lanes = []
    this.total = 0
    return all
  }

  private removeAt(lane: Lane<A>, index: number): void {
    lane.items[index] = undefined
    lane.size--
    this.total--
    while (lane.head < lane.items.length && lane.items[lane.head] === undefined) lane.head++
    if (lane.head === lane.items.length) {
      lane.items = []
      lane.head = 0
    } else if (lane.head > 1024 && lane.head * 2 > lane.items.length) {
      lane.items = lane.items.slice(lane.head)
      lane.head = 0
    }
  }
}
