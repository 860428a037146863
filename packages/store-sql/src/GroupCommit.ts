/**
 * Group commit: the writes of many concurrent tasks share one transaction.
 *
 * Committing once per state change caps a durable store at the rate of its
 * disk flushes. Here one writer fiber stores everything queued since its last
 * batch in one `write` call: writes arriving while a batch is being committed
 * form the next one. By default the writer starts a batch as soon as it is
 * free, so a lone write is acknowledged after one commit; a `flushInterval`
 * makes it wait that long (or until `maxBatchSize` records are queued) for
 * bigger batches instead. An `insert` or `update` is acknowledged only after
 * its batch committed.
 *
 * Within a batch, the latest state change of an id wins (each is a whole
 * record), and progress is coalesced per id, latest wins. A state change
 * drops the progress of the same id queued before it, and the batch hands
 * progress to `write` as newer than the state changes: an older progress write
 * therefore never overwrites a later state change. An insert fails if a write
 * of its id is already queued, as it would once that write is stored (an
 * update of an unknown id records it), instead of being written first and
 * overwritten by the older write. Progress is acknowledged as soon as it is
 * queued, as the `TaskStore` contract allows.
 *
 * @since 0.1.0
 */
import { Deferred, Duration, Effect, Exit, Latch, Schema, type Scope, Semaphore } from "effect"
import { TaskError, type TaskInfo as TaskInfoModule, TaskStore } from "@chainjobs/tasks"

type TaskInfo = TaskInfoModule.TaskInfo
type TaskStoreError = TaskError.TaskStoreError

/** How batches are formed. */
export interface GroupCommitConfig {
  /**
   * How long the first write of a batch waits for others to join it. Default
   * 0: no wait. Measured on SQLite with 1,000 tasks at once, batches were as
   * big without the wait, and a lone write was acknowledged in 0.7 ms instead
   * of 2.1 ms with a 1 ms wait.
   */
  readonly flushInterval?: Duration.Input | undefined
  /** With a `flushInterval`, a batch holding this many records is written without waiting it out. Default 500. */
  readonly maxBatchSize?: number | undefined
  /**
   * How many batches may be written at once, each on a connection of its own.
   * A batch sharing an id with a batch being written starts once that one is
   * placed; a batch sharing none starts at once (no id's writes can change
   * order), so one batch's commit overlaps the next one's. Only for a
   * database whose row locks order concurrent transactions (PostgreSQL).
   * Default 1: a batch starts once the one before it committed.
   */
  readonly batchesInFlight?: number | undefined
  /**
   * How many writers of a committed batch resume before the next batch may
   * start. The writers resume group by group; between two groups, the writes
   * the group before queued start as the next batch, so the database writes
   * it while the next group resumes: with many writers in lockstep (each
   * resumed writer queues its next write at once), the database and this
   * process work at the same time instead of taking turns. Only for a
   * database that writes while this thread runs (a server, or a worker
   * thread); on the calling thread, smaller batches only cost more commits.
   * A batch of this many writers or fewer resumes at once. Default: every
   * writer at once.
   */
  readonly resumeGroupSize?: number | undefined
}

/**
 * A count setting of `GroupCommitConfig` that is not a whole number of at
 * least 1 (a fraction, NaN, zero or less; `resumeGroupSize` may also be
 * Infinity): nothing was started. Unchecked, NaN or a fraction never matched
 * a group's size, so every writer silently resumed in one group.
 */
export class GroupCommitConfigError extends Schema.TaggedError<GroupCommitConfigError>(
  "@chainjobs/store-sql/GroupCommitConfigError"
)("GroupCommitConfigError", {
  /** The setting, e.g. `resumeGroupSize`. */
  setting: Schema.String,
  /** The value given, as text (NaN and Infinity included). */
  value: Schema.String
}) {
  override get message(): string {
    return `${this.setting} must be a whole number of at least 1, not ${this.value}`
  }
}

/** The count settings, each a whole number of at least 1 when given; `unbounded` ones may be Infinity. */
const counts = [
  { setting: "maxBatchSize", unbounded: false },
  { setting: "batchesInFlight", unbounded: false },
  { setting: "resumeGroupSize", unbounded: true }
] as const

/** Checks the count settings of `config`, failing on the first that is not a whole number of at least 1 (`make` does so first). */
export const checkConfig = (config: GroupCommitConfig): Effect.Effect<void, GroupCommitConfigError> => {
  for (const { setting, unbounded } of counts) {
    const value = config[setting]
    if (value === undefined) continue
    const whole = Number.isInteger(value) || unbounded && value === Number.POSITIVE_INFINITY
    if (!whole || value < 1) return Effect.fail(new GroupCommitConfigError({ setting, value: String(value) }))
  }
  return Effect.void
}

/** The writes one transaction must store, in this order: inserts, then updates, then progress. */
export interface Batch {
  /** New records by id. */
  readonly inserts: ReadonlyMap<string, TaskInfo>
  /** The latest state change by id. */
  readonly updates: ReadonlyMap<string, TaskInfo>
  /** The latest progress by id, each queued after any state change of the same id in `updates`. */
  readonly progress: ReadonlyMap<string, TaskInfo>
}

/** What became of a batch that was written. */
export interface BatchResult {
  /** Ids of `inserts` not stored because a record with that id already existed. */
  readonly duplicates: ReadonlySet<string>
  /**
   * Writes that failed on their own while the rest of the batch was stored,
   * by part of the batch and id: a failed progress write does not fail the
   * committed state change of the same id.
   */
  readonly failed: { readonly [Part in keyof Batch]: ReadonlyMap<string, TaskStoreError> }
}

/**
 * Stores one batch; fails when none of it could be stored. `placed` tells the
 * writer that the batch holds its place in the order of writes (inside its
 * transaction, once every statement ran, before the commit): the next batch
 * may start. A write that never runs it is placed when it ends.
 */
export type WriteBatch = (batch: Batch, placed: Effect.Effect<void>) => Effect.Effect<BatchResult, TaskStoreError>

/** The batching front of a store's writes. */
export interface GroupCommit {
  /** Queues a new record; succeeds once it is committed, fails if the id exists or a write of it is queued. */
  insert(info: TaskInfo): Effect.Effect<void, TaskStoreError>
  /**
   * Queues new records into one batch, awaiting it once: per record,
   * `undefined` once committed or the error `insert` would fail with; fails
   * when the batch failed as a whole.
   */
  insertAll(infos: ReadonlyArray<TaskInfo>): Effect.Effect<ReadonlyArray<TaskStoreError | undefined>, TaskStoreError>
  /** Queues a state change; succeeds once it is committed. */
  update(info: TaskInfo): Effect.Effect<void, TaskStoreError>
  /**
   * Queues state changes into one batch, awaiting it once: per record,
   * `undefined` once committed or the error `update` would fail with; fails
   * when the batch failed as a whole.
   */
  updateAll(infos: ReadonlyArray<TaskInfo>): Effect.Effect<ReadonlyArray<TaskStoreError | undefined>, TaskStoreError>
  /** Queues progress, coalesced with other progress of the same id; succeeds at once. */
  updateProgress(info: TaskInfo): Effect.Effect<void, TaskStoreError>
  /**
   * Waits until every write queued so far has been written or has failed. A
   * delete runs after it, so that no write queued before the delete can
   * bring the record back.
   */
  readonly settled: Effect.Effect<void>
}

interface PendingBatch extends Batch {
  readonly inserts: Map<string, TaskInfo>
  readonly updates: Map<string, TaskInfo>
  readonly progress: Map<string, TaskInfo>
  /** Done with the batch's outcome once its write ended, before any of its writers resumes. */
  readonly committed: Deferred.Deferred<BatchResult, TaskStoreError>
  /** What the batch's writers await, one deferred per group of writers, done in order once it committed. */
  readonly groups: Array<Deferred.Deferred<BatchResult, TaskStoreError>>
  /** How many writers await the last group. */
  lastGroupSize: number
}

const emptyBatch = (): PendingBatch => ({
  inserts: new Map(),
  updates: new Map(),
  progress: new Map(),
  committed: Deferred.makeUnsafe(),
  groups: [Deferred.makeUnsafe()],
  lastGroupSize: 0
})

const size = (batch: Batch): number => batch.inserts.size + batch.updates.size + batch.progress.size

/** True when a batch writes an id the other writes too (in any part). */
const sharesId = (batch: Batch, other: Batch): boolean => {
  const [small, large] = size(batch) <= size(other) ? [batch, other] : [other, batch]
  const has = (id: string) => large.inserts.has(id) || large.updates.has(id) || large.progress.has(id)
  for (const id of small.inserts.keys()) if (has(id)) return true
  for (const id of small.updates.keys()) if (has(id)) return true
  for (const id of small.progress.keys()) if (has(id)) return true
  return false
}

/** The failure of a batch whose write was interrupted before it ended (only when the runtime itself stops). */
const interruptedBatch = new TaskError.TaskStoreError({ operation: "write", detail: "the batch's write was interrupted" })

const { alreadyExists } = TaskStore

/**
 * Starts the writer fiber for the current scope. Closing the scope writes
 * what is still queued; writes queued after that fail. Fails with
 * `GroupCommitConfigError`, starting nothing, when a count setting is not a
 * whole number of at least 1.
 */
export const make = Effect.fnUntraced(function*(
  write: WriteBatch,
  config: GroupCommitConfig = {}
): Effect.fn.Return<GroupCommit, GroupCommitConfigError, Scope.Scope> {
  yield* checkConfig(config)
  const flushInterval = config.flushInterval ?? Duration.zero
  const maxBatchSize = config.maxBatchSize ?? 500
  const slots = yield* Semaphore.make(config.batchesInFlight ?? 1)
  const resumeGroupSize = config.resumeGroupSize ?? Number.POSITIVE_INFINITY
  /** How many committed batches are resuming their writers group by group: meanwhile only they wake the writer. */
  let resuming = 0
  let pending = emptyBatch()
  /** The batches being written. */
  const writing = new Set<PendingBatch>()
  /** The batches being written that are not placed yet, each with the deferred of its placing. */
  const unplaced = new Map<PendingBatch, Deferred.Deferred<void>>()
  let closed = false
  const queued = yield* Latch.make(false)
  const full = yield* Latch.make(false)
  const gather = Duration.toMillis(flushInterval) === 0
    ? Effect.void
    : Effect.raceFirst(Effect.sleep(flushInterval), full.await)

  /** Takes the pending batch, unless it is empty. */
  const take = (): PendingBatch | undefined => {
    const batch = pending
    pending = emptyBatch()
    queued.closeUnsafe()
    full.closeUnsafe()
    return size(batch) === 0 ? undefined : batch
  }

  /** Wakes the writer when writes are queued. */
  const wake = () => {
    if (size(pending) > 0) queued.openUnsafe()
  }

  /** The outcome of a batch for one more of its writers: the deferred of the batch's last group, a new group once it is full. */
  const outcome = (batch: PendingBatch): Effect.Effect<BatchResult, TaskStoreError> => {
    if (batch.lastGroupSize === resumeGroupSize) {
      batch.groups.push(Deferred.makeUnsafe())
      batch.lastGroupSize = 0
    }
    batch.lastGroupSize++
    return Deferred.await(batch.groups[batch.groups.length - 1])
  }

  /**
   * Resumes a committed batch's writers, group by group. After each group
   * but the last, the writer takes what is queued by then (what that group's
   * writers queued as they resumed) and starts it, and this fiber yields, so
   * the next batch's write is on its way before the next group resumes.
   * Meanwhile a queued write does not wake the writer (see `queue`): the
   * first write a resumed writer queues would otherwise start as a batch of
   * its own, ahead of those its group queues after it.
   */
  const resume = (batch: PendingBatch, exit: Exit.Exit<BatchResult, TaskStoreError>) =>
    Effect.suspend(() => {
      const groups = batch.groups
      resuming++
      return Effect.gen(function*() {
        for (let i = 0; i < groups.length - 1; i++) {
          Deferred.doneUnsafe(groups[i], exit)
          wake()
          yield* Effect.yieldNow
        }
        Deferred.doneUnsafe(groups[groups.length - 1], exit)
      }).pipe(Effect.ensuring(Effect.sync(() => {
        resuming--
        wake()
      })))
    })

  /** Marks a batch as placed: batches sharing an id with it may start. */
  const markPlaced = (batch: PendingBatch, placed: Deferred.Deferred<void>) => {
    unplaced.delete(batch)
    Deferred.doneUnsafe(placed, Exit.void)
  }

  /**
   * Writes a batch, once every placing in `after` is done, and settles its
   * writers, running `placed` once it is placed (at the latest when it ends).
   * The batch counts as being written from the call on, while it waits too:
   * `settled` waits for it, and later batches sharing an id with it wait for it in turn.
   * Once the write ended, the batch's slot is given back (`release`, run
   * once) before its writers resume (see `resume`): the next batch may start
   * meanwhile, and no writer resumes before its batch committed.
   */
  const writeBatch = (
    batch: PendingBatch,
    placed: Deferred.Deferred<void>,
    after: ReadonlyArray<Deferred.Deferred<void>> = [],
    release: Effect.Effect<void> = Effect.void
  ) => {
    writing.add(batch)
    unplaced.set(batch, placed)
    let released = false
    const releaseOnce = Effect.suspend(() => {
      if (released) return Effect.void
      released = true
      return release
    })
    /** Ends the batch's write: it no longer holds its place or its slot. */
    const ended = Effect.andThen(Effect.sync(() => {
      writing.delete(batch)
      markPlaced(batch, placed)
    }), releaseOnce)
    let outcomeOf: Exit.Exit<BatchResult, TaskStoreError> = Exit.fail(interruptedBatch)
    const written = write(batch, Effect.sync(() => markPlaced(batch, placed)))
    return (after.length === 0 ? written : Effect.andThen(Effect.forEach(after, Deferred.await, { discard: true }), written)).pipe(
      Effect.exit,
      Effect.tap((exit) => {
        const lost = Exit.isSuccess(exit) ? exit.value.failed.progress.size : batch.progress.size
        return lost > 0 ? Effect.logWarning(`group commit lost ${lost} progress updates`, exit) : Effect.void
      }),
      Effect.flatMap((exit) => {
        outcomeOf = exit
        Deferred.doneUnsafe(batch.committed, exit)
        return Effect.andThen(ended, resume(batch, exit))
      }),
      // Only when the runtime itself stops: writers not resumed yet get the outcome, or the interruption.
      Effect.onInterrupt(() =>
        Effect.sync(() => {
          Deferred.doneUnsafe(batch.committed, outcomeOf)
          for (const group of batch.groups) Deferred.doneUnsafe(group, outcomeOf)
        })
      ),
      Effect.ensuring(ended)
    )
  }

  /** The placing of every batch being written, not placed yet, that writes an id `batch` writes too. */
  const overlapping = (batch: PendingBatch): Array<Deferred.Deferred<void>> => {
    const found: Array<Deferred.Deferred<void>> = []
    for (const [other, placed] of unplaced) {
      if (sharesId(batch, other)) found.push(placed)
    }
    return found
  }

  /**
   * Starts writing the pending batch in a slot of its own. Its write begins
   * once every batch being written that shares an id with it is placed, so
   * that each id's writes reach the database in the order they were queued;
   * the writer goes on meanwhile: a later batch sharing no id with any batch
   * not yet placed starts at once, while the others wait or commit.
   */
  const start = Effect.suspend((): Effect.Effect<unknown> => {
    const batch = take()
    if (batch === undefined) return slots.release(1)
    return Effect.forkDetach(writeBatch(batch, Deferred.makeUnsafe<void>(), overlapping(batch), slots.release(1)))
  })

  /** Waits until every batch being written has committed or failed. */
  const drained = Effect.suspend(() =>
    Effect.forEach(Array.from(writing), (batch) => Effect.ignore(Deferred.await(batch.committed)), { discard: true })
  )

  // Registered before the writer, so it runs after the writer stopped: what is still queued gets written.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      closed = true
      yield* drained
      const batch = take()
      if (batch !== undefined) yield* writeBatch(batch, Deferred.makeUnsafe())
    })
  )
  yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
    yield* queued.await
    yield* gather
    yield* slots.take(1)
    yield* Effect.uninterruptible(start)
  })))

  const closedError = (operation: string) => new TaskError.TaskStoreError({ operation, detail: "the task store is closed" })

  /** Puts a state change in the pending batch: it replaces the id's queued state change and drops its older progress. */
  const queueUpdate = (batch: PendingBatch, info: TaskInfo) => {
    batch.updates.set(info.id, info)
    batch.progress.delete(info.id)
  }

  /** Marks the pending batch as holding a new write: the writer wakes, and a full batch stops waiting. */
  const queue = (batch: PendingBatch) => {
    // While a committed batch resumes its writers, it wakes the writer between groups (see `resume`).
    if (resuming === 0) queued.openUnsafe()
    if (size(batch) >= maxBatchSize) full.openUnsafe()
  }

  return {
    insert: (info) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError("insert"))
        const batch = pending
        // A write of the id queued before it records the id first (it is an upsert): the insert finds it existing.
        if (batch.inserts.has(info.id) || batch.updates.has(info.id) || batch.progress.has(info.id)) {
          return Effect.fail(alreadyExists(info.id))
        }
        batch.inserts.set(info.id, info)
        queue(batch)
        return Effect.flatMap(outcome(batch), (result) => {
          const failure = result.failed.inserts.get(info.id)
          if (failure !== undefined) return Effect.fail(failure)
          return result.duplicates.has(info.id) ? Effect.fail(alreadyExists(info.id)) : Effect.void
        })
      }),
    insertAll: (infos) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError("insert"))
        const batch = pending
        // Refused before queueing: a queued write of the id, or the id earlier in this call.
        const refused: Array<TaskStoreError | undefined> = []
        let queuedAny = false
        for (const info of infos) {
          const id = info.id
          if (batch.inserts.has(id) || batch.updates.has(id) || batch.progress.has(id)) {
            refused.push(alreadyExists(id))
          } else {
            batch.inserts.set(id, info)
            refused.push(undefined)
            queuedAny = true
          }
        }
        if (!queuedAny) return Effect.succeed(refused)
        queue(batch)
        return Effect.map(outcome(batch), (result) =>
          refused.map((error, i) => {
            if (error !== undefined) return error
            const id = infos[i].id
            return result.failed.inserts.get(id) ?? (result.duplicates.has(id) ? alreadyExists(id) : undefined)
          }))
      }),
    update: (info) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError("update"))
        const batch = pending
        queueUpdate(batch, info)
        queue(batch)
        return Effect.flatMap(outcome(batch), (result) => {
          const failure = result.failed.updates.get(info.id)
          return failure === undefined ? Effect.void : Effect.fail(failure)
        })
      }),
    updateAll: (infos) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError("update"))
        if (infos.length === 0) return Effect.succeed([])
        const batch = pending
        for (const info of infos) queueUpdate(batch, info)
        queue(batch)
        return Effect.map(outcome(batch), (result) => infos.map((info) => result.failed.updates.get(info.id)))
      }),
    settled: Effect.suspend(() => {
      if (size(pending) === 0) return drained
      // Batches start in order, so the pending one starts after every batch being written now.
      full.openUnsafe()
      const last = pending
      return Effect.andThen(Effect.ignore(Deferred.await(last.committed)), drained)
    }),
    updateProgress: (info) =>
      Effect.suspend(() => {
        if (closed) return Effect.fail(closedError("updateProgress"))
        pending.progress.set(info.id, info)
        queue(pending)
        return Effect.void
      })
  }
})
