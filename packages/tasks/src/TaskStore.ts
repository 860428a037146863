/**
 * Where task records live. The supervisor writes every state change through
 * this service and reads records back for `get`, `list` and restart recovery;
 * the memory store here serves tests and throwaway runs, `@chainjobs/store-sql`
 * provides SQLite and PostgreSQL. Every implementation runs the conformance
 * suite in `test/TaskStoreConformance.ts`.
 *
 * Contract:
 * - `insert`, `insertAll`, `update` and `updateAll` are durable when they succeed: a store may batch
 *   writes (group commit) but must not acknowledge before the batch committed.
 * - `updateProgress` may be coalesced (latest wins) and acknowledged early; it
 *   never overwrites a finished record, and a read may not show it yet.
 * - `insert` fails on an existing id (`insertAll` refuses that record alone);
 *   `update` of an unknown id records it.
 * - `list` returns newest first (ids are time-ordered) with keyset pagination.
 * - `purge` removes only finished records.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import { TaskStoreError } from "./TaskError.ts"
import { isTerminal, type TaskInfo, type TaskStatus } from "./TaskInfo.ts"
import { immediate, type WriteNow } from "./internal/immediate.ts"
import { MemoryRecords } from "./internal/MemoryRecords.ts"
import { defaultLimit, noCounts, type PurgeFilter, type TaskCounts, type TaskPage, type TaskQuery } from "./TaskQuery.ts"

/** The persistence interface of the task runtime. */
export class TaskStore extends Context.Service<TaskStore, {
  /** Records a new task; durable once it succeeds. Fails if the id exists. */
  insert(info: TaskInfo): Effect.Effect<void, TaskStoreError>
  /**
   * Records new tasks together, with one wait for all of them (optional: the
   * supervisor inserts one by one without it). Succeeds once every record it
   * stored is durable, with one entry per record, in order: `undefined` where
   * it was stored, the error where it was not (an existing id, an id repeated
   * in the call, a record that does not encode). Fails when the write failed
   * as a whole (a lost connection, a closed store): then none was stored.
   */
  insertAll?(infos: ReadonlyArray<TaskInfo>): Effect.Effect<ReadonlyArray<TaskStoreError | undefined>, TaskStoreError>
  /** Overwrites a task's record with a state change; durable once it succeeds. */
  update(info: TaskInfo): Effect.Effect<void, TaskStoreError>
  /**
   * Overwrites records with state changes together, with one wait for all of
   * them (optional: without it the supervisor writes each task's final record
   * with `update`, each task's fiber waiting for its own). Succeeds once every
   * record it stored is durable, with one entry per record, in order:
   * `undefined` where it was stored, the error where it was not. Fails when
   * the write failed as a whole: then none was stored.
   */
  updateAll?(infos: ReadonlyArray<TaskInfo>): Effect.Effect<ReadonlyArray<TaskStoreError | undefined>, TaskStoreError>
  /** Overwrites a task's record with new progress; may be coalesced (latest wins). */
  updateProgress(info: TaskInfo): Effect.Effect<void, TaskStoreError>
  /** Reads one record. */
  get(id: string): Effect.Effect<Option.Option<TaskInfo>, TaskStoreError>
  /** Lists records newest first, filtered and paginated. */
  list(query: TaskQuery): Effect.Effect<TaskPage, TaskStoreError>
  /** Counts the records a query matches, by status (`limit` and `cursor` aside). */
  count(query: TaskQuery): Effect.Effect<TaskCounts, TaskStoreError>
  /** Deletes one record; true if it existed. */
  remove(id: string): Effect.Effect<boolean, TaskStoreError>
  /** Deletes finished records matching the filter; returns them as they stood (so their deletion can be told). */
  purge(filter: PurgeFilter): Effect.Effect<ReadonlyArray<TaskInfo>, TaskStoreError>
  /** Every record still `pending` or `running`, oldest first: what a restart must recover. */
  readonly unfinished: Effect.Effect<ReadonlyArray<TaskInfo>, TaskStoreError>
}>()("@chainjobs/tasks/TaskStore") {}

/** True when a record passes a query's filters (cursor and limit aside). */
export const matchesQuery = (info: TaskInfo, query: TaskQuery): boolean =>
  (query.status === undefined || query.status.includes(info.status)) &&
  (query.kind === undefined || query.kind.includes(info.kind)) &&
  (query.owner === undefined || info.owner === query.owner) &&
  (query.createdAfter === undefined || info.createdAt >= query.createdAfter) &&
  (query.createdBefore === undefined || info.createdAt < query.createdBefore)

/** True when a finished record is covered by a purge filter. */
export const matchesPurge = (info: TaskInfo, filter: PurgeFilter): boolean =>
  isTerminal(info.status) &&
  (filter.status === undefined || filter.status.includes(info.status)) &&
  (filter.finishedBefore === undefined || (info.finishedAt !== null && info.finishedAt < filter.finishedBefore)) &&
  (filter.expiredBy === undefined || (info.expiresAt !== null && info.expiresAt <= filter.expiredBy))

const unfinishedStatuses: ReadonlyArray<TaskStatus> = ["pending", "running"]

/** The refusal of an insert whose id a record (or a task held in memory) already has. */
export const alreadyExists = (id: string): TaskStoreError =>
  new TaskStoreError({ operation: "insert", detail: `task ${id} already exists` })

/**
 * A store held in memory (`MemoryRecords`: a sorted array for this process's
 * time-ordered ids): fast, and gone with the process. Use it in tests,
 * benchmarks and programs that need no durability.
 */
export const makeMemory: Effect.Effect<TaskStore["Service"]> = Effect.sync(() => {
  const records = new MemoryRecords()
  // Its writes are done when called: `insert` and `update` are marked with these (see `internal/immediate`), so the
  // supervisor calls them directly instead of running an Effect per write.
  const insertNow: WriteNow = (info) => (records.insert(info) ? undefined : alreadyExists(info.id))
  const updateNow: WriteNow = (info) => {
    records.put(info)
    return undefined
  }
  return TaskStore.of({
    // one step: the check and the write in the same suspension
    insert: immediate((info) =>
      Effect.suspend(() => {
        const refused = insertNow(info)
        return refused === undefined ? Effect.void : Effect.fail(refused)
      }), insertNow),
    insertAll: (infos) => Effect.sync(() => infos.map(insertNow)),
    update: immediate((info) => Effect.sync(() => void updateNow(info)), updateNow),
    updateProgress: (info) =>
      Effect.sync(() => {
        const current = records.get(info.id)
        if (current === undefined || !isTerminal(current.status)) records.put(info)
      }),
    get: (id) => Effect.sync(() => Option.fromNullishOr(records.get(id))),
    list: (query) =>
      Effect.sync(() => {
        const limit = query.limit ?? defaultLimit
        // Newest first already: one more than the page tells whether a next page exists.
        const items: Array<TaskInfo> = []
        for (const info of records.newestFirst(query.cursor)) {
          if (!matchesQuery(info, query)) continue
          if (items.length === limit) return { items, nextCursor: items[limit - 1].id }
          items.push(info)
        }
        return { items, nextCursor: null }
      }),
    count: (query) =>
      Effect.sync(() => {
        const counts = noCounts()
        for (const info of records.values()) if (matchesQuery(info, query)) counts[info.status]++
        return counts
      }),
    remove: (id) => Effect.sync(() => records.remove(id) !== undefined),
    purge: (filter) => Effect.sync(() => records.removeWhere((info) => matchesPurge(info, filter))),
    unfinished: Effect.sync(() =>
      Array.from(records.values())
        .filter((info) => unfinishedStatuses.includes(info.status))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    )
  })
})

/** The memory store as a layer. */
export const layerMemory: Layer.Layer<TaskStore> = Layer.effect(TaskStore, makeMemory)
