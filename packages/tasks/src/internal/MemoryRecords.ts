/**
 * The memory store's table of records, shaped for time-ordered ids. The ids
 * this process makes (UUID v7) only grow, so almost every new record goes at
 * the end of one sorted array: no hashing and no hash table to grow (a
 * `Map` of 100k records spent ~1 µs per new key on its growth and cache
 * misses, a fifth of a no-op task's cost), and the newest record — the one a
 * running task's state changes overwrite — is found from the end in a step
 * or two. A record whose id comes out of order (an id the caller chose, one
 * made elsewhere) is kept in a `Map` beside it. Each id lives in exactly one
 * of the two: an id goes to the array only when it is shaped as this
 * process's ids and greater than every id the array ever held, so never one
 * the `Map` holds.
 */
import type { TaskInfo } from "../TaskInfo.ts"

/** Holes (deleted records) tolerated before the array is compacted: at most half of it, and never fewer than this. */
const minHolesBeforeCompaction = 64

/** The first position in `ids[lo, hi)` whose id is not below `id` (`hi` when none): `ids` is sorted. */
const lowerBound = (ids: ReadonlyArray<string>, id: string, lo: number, hi: number): number => {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ids[mid] < id) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Whether `id` has the shape of the ids this process makes, a UUID v7 (dashes at 8, 13, 18 and 23, version 7 at 14):
 * only those enter the array. An id the caller chose that sorts above them ("order-1", as "o" > "0"; a random UUID v4
 * starting "f…") would otherwise become the array's greatest id for good and send every later record to the `Map`.
 */
const timeOrdered = (id: string): boolean =>
  id.length >= 36 && id.charCodeAt(8) === 45 && id.charCodeAt(13) === 45 && id.charCodeAt(14) === 55 &&
  id.charCodeAt(18) === 45 && id.charCodeAt(23) === 45

/** Records by id: a sorted array for ids that came in increasing order, a `Map` for the others. */
export class MemoryRecords {
  /** The ids that came in increasing order, sorted; a deleted record keeps its id here until compaction. */
  private ids: Array<string> = []
  /** The record of `ids[i]` at `i`, undefined once deleted. */
  private records: Array<TaskInfo | undefined> = []
  /** How many of `records` are undefined. */
  private holes = 0
  /** The greatest id the array ever held ("" before the first): an id above it is new to both parts. */
  private lastId = ""
  /** Records whose ids came out of order, by id. */
  private readonly others = new Map<string, TaskInfo>()

  /** The position of `id` in `ids`, or -1: galloping back from the end (recent ids are near it), then bisecting. */
  private indexOf(id: string): number {
    const ids = this.ids
    if (ids.length === 0 || id > this.lastId) return -1
    let hi = ids.length
    let step = 1
    let lo = hi - 1
    while (lo > 0 && ids[lo] > id) {
      hi = lo
      step *= 2
      lo = hi - step
    }
    // ids[lo] <= id < ids[hi] (when lo > 0): id, if held, is within [lo, hi)
    const at = lowerBound(ids, id, Math.max(lo, 0), hi)
    return at < ids.length && ids[at] === id ? at : -1
  }

  private append(info: TaskInfo): void {
    this.ids.push(info.id)
    this.records.push(info)
    this.lastId = info.id
  }

  /** How many records are kept out of order, in the `Map`: few, unless ids come out of order. */
  get outOfOrder(): number {
    return this.others.size
  }

  /** The record of `id`, if held. */
  get(id: string): TaskInfo | undefined {
    const index = this.indexOf(id)
    if (index >= 0) return this.records[index]
    return this.others.size === 0 ? undefined : this.others.get(id)
  }

  /** Adds a record; false (and nothing changes) when one of its id is held. */
  insert(info: TaskInfo): boolean {
    const id = info.id
    if (id > this.lastId && timeOrdered(id)) {
      this.append(info)
      return true
    }
    const index = this.indexOf(id)
    if (index >= 0) {
      if (this.records[index] !== undefined) return false
      this.records[index] = info
      this.holes--
      return true
    }
    if (this.others.has(id)) return false
    this.others.set(id, info)
    return true
  }

  /** Adds a record, or overwrites the one of its id. */
  put(info: TaskInfo): void {
    const id = info.id
    if (id > this.lastId && timeOrdered(id)) return this.append(info)
    const index = this.indexOf(id)
    if (index < 0) {
      this.others.set(id, info)
      return
    }
    if (this.records[index] === undefined) this.holes--
    this.records[index] = info
  }

  /** Deletes the record of `id`; the record deleted, if there was one. */
  remove(id: string): TaskInfo | undefined {
    const index = this.indexOf(id)
    if (index < 0) {
      const info = this.others.get(id)
      if (info !== undefined) this.others.delete(id)
      return info
    }
    const info = this.records[index]
    if (info === undefined) return undefined
    this.records[index] = undefined
    this.holes++
    this.compactIfSparse()
    return info
  }

  /** Deletes every record `predicate` holds for and returns them. */
  removeWhere(predicate: (info: TaskInfo) => boolean): Array<TaskInfo> {
    const removed: Array<TaskInfo> = []
    const records = this.records
    for (let i = 0; i < records.length; i++) {
      const info = records[i]
      if (info !== undefined && predicate(info)) {
        records[i] = undefined
        this.holes++
        removed.push(info)
      }
    }
    for (const info of this.others.values()) {
      if (predicate(info)) {
        this.others.delete(info.id)
        removed.push(info)
      }
    }
    this.compactIfSparse()
    return removed
  }

  /** Every record, in no particular order. */
  *values(): IterableIterator<TaskInfo> {
    for (const info of this.records) if (info !== undefined) yield info
    yield* this.others.values()
  }

  /** The records whose ids are below `before` (all when undefined), newest (greatest id) first. */
  *newestFirst(before?: string): IterableIterator<TaskInfo> {
    const ids = this.ids
    const records = this.records
    // the last position below `before`
    let i = before === undefined || before > this.lastId ? ids.length - 1 : lowerBound(ids, before, 0, ids.length) - 1
    if (this.others.size === 0) {
      for (; i >= 0; i--) {
        const info = records[i]
        if (info !== undefined) yield info
      }
      return
    }
    // Merged with the out-of-order records, sorted on demand (they are few: ids a caller chose).
    const others = Array.from(this.others.values())
      .filter((info) => before === undefined || info.id < before)
      .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    let j = 0
    while (i >= 0 || j < others.length) {
      if (i >= 0 && (j >= others.length || ids[i] > others[j].id)) {
        const info = records[i--]
        if (info !== undefined) yield info
      } else {
        yield others[j++]
      }
    }
  }

  /** Drops the holes once they are over half of the array. */
  private compactIfSparse(): void {
    if (this.holes < minHolesBeforeCompaction || this.holes * 2 < this.records.length) return
    const ids: Array<string> = []
    const records: Array<TaskInfo> = []
    for (let i = 0; i < this.records.length; i++) {
      const info = this.records[i]
      if (info !== undefined) {
        ids.push(this.ids[i])
        records.push(info)
      }
    }
    this.ids = ids
    this.records = records
    this.holes = 0
  }
}
