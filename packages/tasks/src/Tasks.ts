/**
 * The supervisor: the service that accepts tasks, runs each one as a fiber it
 * supervises, and answers for them. Every submitted task is recorded in the
 * `TaskStore` before `submit` returns, waits in priority order (FIFO within a
 * priority) until the global, per-kind and per-key limits let it start, then
 * runs its kind's handler under the kind's policy: timeout, retries, heartbeat
 * watchdog. Callers hold a `TaskHandle` to await, follow or interrupt it.
 *
 * Closing the supervisor's scope (the layer's) refuses new submissions, lets
 * running tasks finish within the grace period, then interrupts the rest and
 * records their final state. At start it recovers what a dead process left:
 * pending tasks wait again; running ones resume from their checkpoint or fail
 * as `lost`, as their kind's policy says.
 *
 * Settings come from `TasksConfig`; schedules and daemons are in `Schedules`.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Deferred, Effect, Exit, Layer, Option, Queue, Scope, Stream } from "effect"
import { Admission } from "./internal/admission.ts"
import { makeRunner } from "./internal/attempt.ts"
import * as codec from "./internal/codec.ts"
import * as Completions from "./internal/completions.ts"
import type { Shared } from "./internal/context.ts"
import { Entry, FinalRecord, type Registered, slotOf } from "./internal/entry.ts"
import { type HandleOperations, LiveTaskHandle } from "./internal/handle.ts"
import { runNow, type WriteNow, writeNow } from "./internal/immediate.ts"
import * as lifecycle from "./internal/lifecycle.ts"
import { Publisher } from "./internal/publisher.ts"
import { RecentFinals } from "./internal/recentFinals.ts"
import { HandOff, Interrupt } from "./internal/stop.ts"
import { unshrinkingMap } from "./internal/unshrinking.ts"
import { uuidv7 } from "./internal/uuid.ts"
import * as HiddenField from "./HiddenField.ts"
import * as Schedules from "./Schedules.ts"
import type { TaskContext } from "./TaskContext.ts"
import {
  InvalidPayload,
  type ResultDecodeError,
  SubmitRejected,
  type TaskAborted,
  TaskNotFound,
  type TaskStoreError,
  UnknownTaskKind
} from "./TaskError.ts"
import type { Deleted, TaskEvent } from "./TaskEvent.ts"
import type { TaskStats } from "./TaskStats.ts"
import type { TaskHandle } from "./TaskHandle.ts"
import { isTerminal, type TaskInfo } from "./TaskInfo.ts"
import type * as Task from "./TaskKind.ts"
import type { SubmitOptions } from "./TaskPolicy.ts"
import type { PurgeFilter, TaskCounts, TaskPage, TaskQuery } from "./TaskQuery.ts"
import { alreadyExists, TaskStore } from "./TaskStore.ts"
import * as TasksConfig from "./TasksConfig.ts"

/** Options of one submission (defined with the policy it overrides). */
export type { SubmitOptions } from "./TaskPolicy.ts"

/** Counts of what the supervisor holds right now (a Schema, for the facades that send them). */
export type { TaskStats } from "./TaskStats.ts"
/** The operations a handle is made of, for a `Tasks` implementation that builds its own (the cluster's). */
export type { HandleOperations } from "./internal/handle.ts"

/** Errors of submitting a task. */
export type SubmitError = InvalidPayload | SubmitRejected | UnknownTaskKind | TaskStoreError

/** The most retries a submission may ask for. */
const maxRetries = 1000

/**
 * The policy a submission sets over its kind's (`timeoutMillis`, `heartbeatTimeoutMillis`, `retries`), as fields of
 * its record: none when it sets none; `InvalidPayload` naming the option when a time limit is not a positive whole
 * number of milliseconds, or `retries` not a whole number from 0 to 1000.
 */
const submissionLimits = (
  kind: string,
  options: SubmitOptions
): Exit.Exit<Pick<TaskInfo, "timeoutMillis" | "heartbeatTimeoutMillis" | "retries"> | undefined, InvalidPayload> => {
  const { heartbeatTimeoutMillis, retries, timeoutMillis } = options
  if (timeoutMillis === undefined && heartbeatTimeoutMillis === undefined && retries === undefined) return Exit.succeed(undefined)
  const invalid = (field: string, message: string) => Exit.fail(new InvalidPayload({ kind, issues: [{ path: [field], message }] }))
  for (const [field, millis] of [["timeoutMillis", timeoutMillis], ["heartbeatTimeoutMillis", heartbeatTimeoutMillis]] as const) {
    if (millis !== undefined && !(Number.isSafeInteger(millis) && millis > 0)) {
      return invalid(field, `Expected a positive whole number of milliseconds, got ${millis}`)
    }
  }
  if (retries !== undefined && !(Number.isSafeInteger(retries) && retries >= 0 && retries <= maxRetries)) {
    return invalid("retries", `Expected a whole number of retries from 0 to ${maxRetries}, got ${retries}`)
  }
  return Exit.succeed({
    ...(timeoutMillis === undefined ? {} : { timeoutMillis }),
    ...(heartbeatTimeoutMillis === undefined ? {} : { heartbeatTimeoutMillis }),
    ...(retries === undefined ? {} : { retries })
  })
}

/** The supervisor service. */
export class Tasks extends Context.Service<Tasks, {
  /** Registers the handler of a kind (use `Task.implement`); tasks of the kind recovered from the store start now. */
  register<R>(
    kind: Task.Any,
    handler: (payload: any, context: any) => Effect.Effect<unknown, unknown, R>,
    context: Context.Context<Exclude<R, TaskContext>>
  ): Effect.Effect<void>
  /** The registered kinds. */
  readonly kinds: Effect.Effect<ReadonlyArray<Task.Any>>
  /** Submits a task and returns its handle once the task is recorded. */
  submit<K extends Task.Any>(
    kind: K,
    payload: Task.Payload<K>,
    options?: SubmitOptions
  ): Effect.Effect<TaskHandle<Task.Success<K>, Task.Error<K>>, SubmitError>
  /**
   * Submits tasks of one kind at once and returns their handles, in order,
   * once all are recorded. Every payload is validated before any task is
   * recorded: an invalid one fails the call and nothing is submitted. Their
   * inserts share the store's group commits.
   */
  submitAll<K extends Task.Any>(
    kind: K,
    payloads: Iterable<Task.Payload<K>>,
    options?: SubmitOptions
  ): Effect.Effect<Array<TaskHandle<Task.Success<K>, Task.Error<K>>>, SubmitError>
  /** Submits a task by kind name with an encoded payload (a remote caller's), decoding it first. */
  submitEncoded(kind: string, payload: unknown, options?: SubmitOptions): Effect.Effect<TaskHandle<unknown, unknown>, SubmitError>
  /** Submits a task and waits for its result (synchronous mode: the caller waits for the outcome). */
  run<K extends Task.Any>(
    kind: K,
    payload: Task.Payload<K>,
    options?: SubmitOptions
  ): Effect.Effect<
    Task.Success<K>,
    Task.Error<K> | TaskAborted | SubmitError | TaskNotFound | ResultDecodeError
  >
  /** A handle to an existing task; given its kind, a typed one (a task of another kind is not found). */
  handle(id: string): Effect.Effect<TaskHandle<unknown, unknown>, TaskNotFound | TaskStoreError>
  handle<K extends Task.Any>(
    id: string,
    kind: K
  ): Effect.Effect<TaskHandle<Task.Success<K>, Task.Error<K>>, TaskNotFound | TaskStoreError>
  /** A task's current record. */
  get(id: string): Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError>
  /** Waits until a task has finished and returns its final record. */
  awaitInfo(id: string): Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError>
  /** A task's record at once, then at every change; ends after a terminal status. */
  watch(id: string): Stream.Stream<TaskInfo, TaskNotFound | TaskStoreError>
  /** Lists records, newest first. */
  list(query: TaskQuery): Effect.Effect<TaskPage, TaskStoreError>
  /** Counts the records a query matches, by status. */
  count(query: TaskQuery): Effect.Effect<TaskCounts, TaskStoreError>
  /** Interrupts a task (a pending one never starts) and waits until it has stopped. */
  interrupt(id: string): Effect.Effect<void, TaskNotFound | TaskStoreError>
  /** Deletes a task's record, interrupting it first if it has not finished. */
  delete(id: string): Effect.Effect<void, TaskNotFound | TaskStoreError>
  /** Deletes finished records by age and status; returns how many. */
  purge(filter: PurgeFilter): Effect.Effect<number, TaskStoreError>
  /**
   * Takes over an unfinished record this process does not hold (another process
   * recorded it, or stopped running it): a pending one waits again, a running one
   * resumes from its checkpoint or fails as `lost`, as start-up recovery does.
   * A record already held or finished is left alone.
   */
  adopt(id: string): Effect.Effect<void, TaskNotFound | TaskStoreError>
  /**
   * Lets go of a task held here for another process to adopt: a running one is
   * interrupted (its finalizers run) and left pending, to run again from its last
   * checkpoint whatever its kind's `onRestart`, as it stopped cleanly; a waiting one
   * stays pending in the store. Waits until it has stopped.
   */
  handOff(id: string): Effect.Effect<void>
  /** Every task event (submitted, started, progressed, retrying, finished, deleted), from now until shutdown. */
  readonly events: Stream.Stream<TaskEvent>
  /** Every change of every task, as its record, from now until shutdown. */
  readonly changes: Stream.Stream<TaskInfo>
  /** `changes`, and a `Deleted` event after a record is deleted, in order: what watchers of all tasks follow. */
  readonly changesAndDeletions: Stream.Stream<TaskInfo | Deleted>
  /** What the supervisor holds right now. */
  readonly stats: Effect.Effect<TaskStats>
  /**
   * Submits a task on a schedule (`Schedule.cron(...)`, `Schedule.spaced(...)`) until
   * cancelled. `overlap` says what a tick does while the previous run is unfinished:
   * `skip` it, `queue` behind it, or `allow` both to run.
   */
  schedule<K extends Task.Any>(
    kind: K,
    payload: Task.Payload<K>,
    options: Schedules.ScheduleOptions
  ): Effect.Effect<Schedules.Recurring, InvalidPayload | UnknownTaskKind>
  /**
   * Keeps a task of the kind running, like systemd's `Restart=`: when it fails
   * (or, with `restartOn: "always"`, ends in any way but an interruption) it is
   * submitted again after the delay of `restart` (e.g. exponential backoff). A run
   * that lasted `resetAfter` (default 1 minute) starts the schedule over.
   */
  daemon<K extends Task.Any>(
    kind: K,
    payload: Task.Payload<K>,
    options: Schedules.DaemonOptions
  ): Effect.Effect<Schedules.Daemon, InvalidPayload | UnknownTaskKind>
}>()("@chainjobs/tasks/Tasks") {}

/** The synchronous reads of the supervisors `make` built, by the service object it returned. */
const peeks = new WeakMap<Tasks["Service"], (id: string) => TaskInfo | undefined>()

/**
 * Task `id`'s record as `tasks.get` would answer it, at once and without the
 * store, when `tasks` is a supervisor `make` built and holds the record in
 * memory: a task it holds (pending or running), or one of the last it
 * finished, not deleted since (deleting one forgets it before the deletion
 * returns). `undefined` otherwise: a record only the store has, or `tasks` is
 * another implementation — a cluster's, or a supervisor wrapped to change
 * its reads (a spread copy is another object) — read through `get`. For a
 * transport that answers a read in the request's own callback, without a
 * fiber.
 */
export const peek = (tasks: Tasks["Service"], id: string): TaskInfo | undefined => peeks.get(tasks)?.(id)

/**
 * `peek` bound to `tasks`, or `undefined` when `tasks` is not a supervisor
 * `make` built: where it is defined, a record it does not answer is not in
 * this process's memory — a recently finished one included, so a copy of a
 * final record heard elsewhere (a feed's, which learns of a deletion a turn
 * or more after it) is not to be trusted over it.
 */
export const peeker = (tasks: Tasks["Service"]): ((id: string) => TaskInfo | undefined) | undefined => peeks.get(tasks)

/** The synchronous worker reads of the supervisors `make` built, by the service object it returned. */
const workerReads = new WeakMap<Tasks["Service"], (kind: Task.Any) => boolean>()

/**
 * Supervisor `tasks`' read of whether it has a worker free for a task of a kind right now: it accepts tasks, fewer
 * run and wait than its `maxWorkers`, and fewer of the kind run than its concurrency — what `stats` tells, read at
 * once, no effect run and no record built. `undefined` when `tasks` is not a supervisor `make` built (as `peeker`).
 * For a placement asked per submission (a cluster runner's `LocalPlacement`).
 */
export const freeWorker = (tasks: Tasks["Service"]): ((kind: Task.Any) => boolean) | undefined => workerReads.get(tasks)

const unknownKind = (name: string) => new UnknownTaskKind({ kind: name })
const notFound = (id: string) => new TaskNotFound({ id })

/**
 * The store's error for a task whose final write was given up, kept on the `FinalRecord` its submission's handles
 * share (a hidden field: set only for such a task), so that those handles' awaits made after it was let go fail with
 * it — not read the record the store kept (running), which would tell an interruption.
 */
const unrecordedFinals = HiddenField.make<TaskStoreError>()

/** A task whose final write was given up, with the store's error for it. */
interface Unrecorded {
  readonly id: string
  /** When the task was created: a record of its id created at another time is another task's (the id used again). */
  readonly createdAt: number
  readonly error: TaskStoreError
}

/** The outcome fields of a task interrupted before it started. */
const interruptedBeforeStart: codec.Outcome = {
  status: "interrupted",
  reason: null,
  result: null,
  error: null,
  errorMessage: null
}

/**
 * A handle whose effects are the given operations, made lazily when read: what every `Tasks` implementation answers.
 * `madeFrom`: a handle a supervisor made at the task's submission, whose committed final record (once the task has
 * ended there) the new handle's await is given too (`HandleOperations.awaitExit`'s `final`): the cluster's handle of a
 * task its own supervisor admitted then joins it without a read or a wait through the feed.
 */
export const makeHandle = (
  id: string,
  kind: string,
  known: Task.Any | undefined,
  operations: HandleOperations,
  madeFrom?: TaskHandle<any, any>
): TaskHandle<any, any> =>
  new LiveTaskHandle(id, kind, known, operations, madeFrom instanceof LiveTaskHandle ? madeFrom.final : undefined)

/** Makes a supervisor in the current scope; closing the scope shuts it down gracefully. */
export const make: Effect.Effect<Tasks["Service"], never, TaskStore | TasksConfig.TasksConfig | Scope.Scope> = Effect
  .gen(function*() {
    const config = yield* TasksConfig.TasksConfig
    const store = yield* TaskStore
    const clock = yield* Clock.Clock
    const context = yield* Effect.context<never>()
    const scope = yield* Scope.Scope
    const now = () => clock.currentTimeMillisUnsafe()

    const registry = new Map<string, Registered>()
    /** The tasks this process holds, from submission (or recovery) until they have finished here (never iterated: see `unshrinking`). */
    const entries = unshrinkingMap<string, Entry>()
    const admission = new Admission<Entry>(config.maxWorkers)
    const publisher = new Publisher()
    /** The last final records of tasks this process let go of, for `peek`. */
    const finals = new RecentFinals()
    /**
     * The tasks whose final write this process gave up on last (as many as `finals` keeps), with the store's error:
     * an await made after such a task was let go (`awaitInfo`, a handle made then) fails with it while the store's
     * record stays unfinished, rather than read that record (running), which would tell an interruption. Only a
     * record of that task tells it (created when it was: `createdAt`): a later task of that (caller-chosen) id,
     * deleted and submitted again here or in another process, is never told the earlier one's error.
     */
    const givenUp = new RecentFinals<Unrecorded>()
    /**
     * Tasks whose final record a purge removed while they were still held (committed, its task not yet let go: the
     * write's reply not yet handled): their records are not kept in `finals` when they are let go. Each is dropped
     * then, so it holds at most the tasks held.
     */
    const purgedHeld = new Set<string>()
    const shared: Shared = { store, now, publisher }
    const dormant = yield* Effect.orDie(lifecycle.Dormant.load(store))

    /**
     * This process is done with a task, whatever its status: its key is free, followers end, waiters learn its last
     * record — or, `unrecorded`, the store's error: its final record was never stored, so no outcome is told.
     */
    const forget = (entry: Entry, unrecorded?: TaskStoreError) => {
      admission.unhold(entry)
      entries.delete(entry.id)
      // only a final record the store took: one whose write was given up is read from the store (as it stands there)
      const final = entry.final?.info
      if (!purgedHeld.delete(entry.id) && final !== undefined) finals.add(final)
      if (entry.listeners !== undefined) {
        for (const queue of entry.listeners) {
          if (unrecorded === undefined) Queue.endUnsafe(queue)
          else Queue.failCauseUnsafe(queue, Cause.fail(unrecorded))
        }
      }
      if (entry.done !== undefined) {
        Deferred.doneUnsafe(entry.done, unrecorded === undefined ? Exit.succeed(entry.info) : Exit.fail(unrecorded))
      }
      if (unrecorded !== undefined) {
        givenUp.add({ id: entry.id, createdAt: entry.info.createdAt, error: unrecorded })
        // the handles made at its submission await after this too: they are told the error, not the store's record
        if (entry.final !== undefined) unrecordedFinals.set(entry.final, unrecorded)
      }
    }

    /**
     * A task ended here (finished, or stored back for the next process): free its worker, tell, start the next.
     * `unrecorded`: its final write was given up with this error — nothing is published (the store holds the record
     * before, the next process recovers the task), its waiters and followers fail with the error.
     */
    const release = (entry: Entry, unrecorded?: TaskStoreError) => {
      entry.letGo()
      admission.stopped(entry)
      if (unrecorded === undefined) publisher.publish(entry, isTerminal(entry.info.status) ? "Finished" : undefined)
      forget(entry, unrecorded)
      dispatch()
    }

    const runner = makeRunner(shared, Completions.make(store, release, context))

    let dispatching = false
    let dispatchAgain = false
    /** Starts waiting tasks while admission allows. Re-entrant calls (a task finishing synchronously) loop instead of recursing. */
    const dispatch = (): void => {
      if (dispatching) {
        dispatchAgain = true
        return
      }
      dispatching = true
      try {
        do {
          dispatchAgain = false
          let entry: Entry | undefined
          while ((entry = admission.next()) !== undefined) runner.start(entry)
        } while (dispatchAgain)
      } finally {
        dispatching = false
      }
    }

    /** Holds a new (or recovered) task: known by id, holding its key. */
    const hold = (entry: Entry) => {
      entries.set(entry.id, entry)
      admission.hold(entry)
    }

    /** Queues a held task and starts what may start. */
    const enqueue = (entry: Entry, event: "Submitted" | undefined) => {
      admission.enqueue(entry)
      publisher.publish(entry, event)
      dispatch()
    }

    // -- submission ------------------------------------------------------------

    /** Checks, before anything is scheduled, that a kind is registered and a payload fits it. */
    const validate = (kind: Task.Any, payload: unknown): Effect.Effect<void, InvalidPayload | UnknownTaskKind> =>
      Effect.suspend((): Effect.Effect<void, InvalidPayload | UnknownTaskKind> => {
        const registered = registry.get(kind.name)
        return registered === undefined ? Effect.fail(unknownKind(kind.name)) : Effect.asVoid(registered.codec.encodePayload(payload))
      })

    /**
     * A submission admitted: a new task's entry, held in memory and still to be recorded (`insertedRunning` when it
     * starts at once), or the handle of a task it joined.
     */
    type Admitted = Entry | TaskHandle<any, any>

    /**
     * Validates a submission and holds its task (its key, and a worker if it
     * may start at once), synchronously: concurrent submissions see each
     * other's keys. `input` is the typed payload, or the encoded one when
     * `fromEncoded` (a remote caller's). Nothing is written yet (see `record`).
     * Admitted, it returns the entry or the joined handle itself (no `Exit` made
     * per submission); refused, the failure.
     */
    const admit = (
      name: string,
      input: unknown,
      fromEncoded: boolean,
      options: SubmitOptions | undefined
    ): Admitted | Exit.Exit<never, SubmitError> => {
      const registered = registry.get(name)
      if (registered === undefined) return Exit.fail(unknownKind(name))
      const kind = registered.kind
      if (!admission.isOpen) {
        return Exit.fail(new SubmitRejected({ kind: kind.name, reason: "shutting-down" }))
      }
      const converted = fromEncoded ? registered.codec.decodePayload(input) : registered.codec.encodePayload(input)
      if (Exit.isFailure(converted)) return Exit.failCause(converted.cause)
      const encoded = fromEncoded ? input : converted.value
      // One object for both forms when they hold the same values: an idle task holds one payload, not two.
      const decoded = fromEncoded ? converted.value : input
      const payload = codec.interchangeable(decoded, encoded) ? encoded : decoded
      const priority = options?.priority ?? kind.policy.priority
      if (!Number.isFinite(priority)) {
        return Exit.fail(
          new InvalidPayload({
            kind: kind.name,
            issues: [{ path: ["priority"], message: `Expected a finite number, got ${priority}` }]
          })
        )
      }
      const limits = options === undefined ? undefined : submissionLimits(kind.name, options)
      if (limits !== undefined && limits._tag === "Failure") return Exit.failCause(limits.cause)
      const key = kind.policy.key === undefined ? null : kind.policy.key(payload)
      const slot = slotOf(kind.name, key)
      if (key !== null && slot !== null) {
        const holder = admission.conflict(slot, kind.policy.keyConcurrency)
        if (holder !== undefined) {
          const onConflict = options?.onConflict ?? kind.policy.onConflict
          if (onConflict === "join") return makeHandle(holder.id, kind)
          if (onConflict === "reject") {
            return Exit.fail(
              new SubmitRejected({
                kind: kind.name,
                reason: "key-busy",
                key,
                holder: holder.id
              })
            )
          }
        }
      }
      // A task of that id held here (a join above answered with it): refused as its insert would be, before
      // anything replaces what is held of it.
      if (options?.id !== undefined && entries.has(options.id)) return Exit.fail(alreadyExists(options.id))
      const createdAt = now()
      // A task that may start at once is recorded running: one write instead of a pending one and a running one.
      // Its handler runs only once that record is committed, as it would after a running write. Until it starts, its
      // entry holds it pending: readers (`get`, `watch`) see what it is — it may yet never start (a shutdown, a
      // hand-off, an interruption or a failed insert meanwhile) — never running before it runs. What reads the store
      // (`list`, `count`) sees it running from the commit until it starts, a step later; `stats` counts it running
      // from its admission.
      const startsNow = admission.mayStartNow(kind.name, slot, kind.policy.concurrency, kind.policy.keyConcurrency)
      // One record object: the running one a task starting at once is inserted with (its entry shows it pending
      // until it starts), else the pending one.
      const record: TaskInfo = {
        id: options?.id ?? uuidv7(createdAt),
        kind: kind.name,
        status: startsNow ? "running" : "pending",
        reason: null,
        priority,
        key,
        owner: options?.owner ?? null,
        attempt: 1,
        progress: 0,
        message: null,
        detail: null,
        payload: encoded ?? null,
        result: null,
        error: null,
        errorMessage: null,
        checkpoint: null,
        createdAt,
        startedAt: startsNow ? createdAt : null,
        finishedAt: null,
        heartbeatAt: startsNow ? createdAt : null,
        expiresAt: null
      }
      const limited = limits === undefined || limits.value === undefined ? record : { ...record, ...limits.value }
      // in a cluster, named after its runner at once (one copy here, none in the runner's store view, reads and feed)
      const info = config.runner === undefined ? limited : { ...limited, runner: config.runner }
      // The entry holds its key from now on, so that concurrent submissions see the conflict.
      const entry = new Entry(info, registered, payload, slot, startsNow)
      hold(entry)
      if (startsNow) admission.started(entry)
      return entry
    }

    /** Lets go of a task admitted but not recorded: its key and worker are free again. */
    const unadmit = (admitted: Admitted) => {
      if (!(admitted instanceof Entry)) return
      if (admitted.insertedRunning) admission.stopped(admitted)
      // Its waiters (an interruption or a hand-off asked while it was being recorded) learn it is let go.
      forget(admitted)
    }

    /**
     * What follows the insert of an admitted task's first record (`entry.written`), `written`: let go of the task if
     * it failed, else queue or start it. Its effect gives the handle once whatever must still be written is. `atOnce`:
     * the insert was done in the call that admitted the task, so a task starting now starts at its creation time (the
     * clock read then) — no second read of the clock, which costs as much as a tenth of a no-op task.
     */
    const recorded = (
      entry: Entry,
      written: Exit.Exit<void, TaskStoreError>,
      atOnce = false
    ): Effect.Effect<TaskHandle<any, any>, SubmitError> => {
      const startsNow = entry.insertedRunning
      if (Exit.isFailure(written)) {
        unadmit(entry)
        if (startsNow) dispatch()
        return Effect.failCause(written.cause)
      }
      entry.final = new FinalRecord()
      const handle = new LiveTaskHandle(entry.id, entry.kindName, entry.registered.kind, operations, entry.final)
      // Recorded, but the supervisor began shutting down meanwhile, or the task was handed off (its shard moved): it
      // stays pending for the next process or owner.
      if (!admission.isOpen || entry.stoppedBy === HandOff) {
        return Effect.as(startsNow ? notStarted(entry) : Effect.sync(() => forget(entry)), handle)
      }
      // Interrupted while being recorded: it never starts (and ends as a task that never started).
      if (entry.stoppedBy !== undefined) return Effect.as(interruptPending(entry), handle)
      if (!startsNow) {
        enqueue(entry, "Submitted")
        return Effect.succeed(handle)
      }
      // Submitted, as it stands (pending); then started, with its running record stored.
      publisher.publish(entry, "Submitted")
      runner.start(entry, atOnce ? entry.written.createdAt : undefined)
      return Effect.succeed(handle)
    }

    /** `store.insert` done at once, if the store does its writes so (see `immediate`). */
    const insertNow = writeNow(store.insert)

    /**
     * `record` over a store whose insert is done at once: inserted in the call, then queued or started, as the Effect
     * would — no interruption can come between them. What must still run after (rarely anything but the handle) is
     * not interruptible either.
     */
    const recordedNow = (entry: Entry, insert: WriteNow): Effect.Effect<TaskHandle<any, any>, SubmitError> => {
      const next = recorded(entry, runNow(insert, entry.written), true)
      return Exit.isExit(next) ? next : Effect.uninterruptible(next)
    }

    /**
     * Records an admitted task, then queues or starts it; returns its handle once it is recorded. Not interruptible:
     * a submitter interrupted meanwhile (an HTTP client gone) would leave the task admitted, holding a worker, never
     * started — and the supervisor's shutdown waiting for it — while the insert may well have reached the store.
     */
    const record = (admitted: Admitted): Effect.Effect<TaskHandle<any, any>, SubmitError> => {
      if (!(admitted instanceof Entry)) return Effect.succeed(admitted)
      if (insertNow !== undefined) return recordedNow(admitted, insertNow)
      return Effect.uninterruptible(Effect.matchCauseEffect(store.insert(admitted.written), {
        // one parameter: `matchCauseEffect` wraps a handler of another arity in a closure of its own
        onSuccess: (_: void) => recorded(admitted, Exit.void),
        onFailure: (cause) => recorded(admitted, Exit.failCause(cause))
      }))
    }

    /**
     * Records admitted tasks with one `insertAll` (one wait for all of them,
     * no fiber each), then queues or starts each one stored; fails with the
     * first failure once every task was settled.
     */
    const recordAll = (
      admitted: ReadonlyArray<Admitted>,
      insertAll: NonNullable<TaskStore["Service"]["insertAll"]>
    ): Effect.Effect<Array<TaskHandle<any, any>>, SubmitError> => {
      const firsts: Array<TaskInfo> = []
      for (const one of admitted) if (one instanceof Entry) firsts.push(one.written)
      // Not interruptible, as `record`.
      return Effect.uninterruptible(Effect.flatMap(Effect.exit(insertAll(firsts)), (written) => {
        let n = 0
        const next = Array.from(admitted, (one) => {
          if (!(one instanceof Entry)) return Effect.succeed(one)
          const i = n++
          const error = Exit.isSuccess(written) ? written.value[i] : undefined
          const exit = Exit.isFailure(written) ? written : error === undefined ? Exit.void : Exit.fail(error)
          return recorded(one, exit)
        })
        return Effect.flatMap(Effect.forEach(next, Effect.exit), (exits): Effect.Effect<Array<TaskHandle<any, any>>, SubmitError> => {
          const handles: Array<TaskHandle<any, any>> = []
          for (const exit of exits) {
            if (Exit.isFailure(exit)) return Effect.failCause(exit.cause)
            handles.push(exit.value)
          }
          return Effect.succeed(handles)
        })
      }))
    }

    /** Validates and records a task, then queues or starts it. */
    const submitAny = (
      name: string,
      input: unknown,
      fromEncoded: boolean,
      options: SubmitOptions | undefined
    ): Effect.Effect<TaskHandle<any, any>, SubmitError> =>
      Effect.suspend((): Effect.Effect<TaskHandle<any, any>, SubmitError> => {
        const admitted = admit(name, input, fromEncoded, options)
        // a new task's entry (the usual answer) told by its class: no `Exit.isExit` property probe per submission
        if (admitted instanceof Entry) return record(admitted)
        return Exit.isExit(admitted) ? admitted : Effect.succeed(admitted)
      })

    /**
     * Validates every submission before any is recorded (the first invalid one
     * fails the call and nothing is written), then records them all at once:
     * through the store's `insertAll` when it has one (one wait for all), else
     * with concurrent inserts sharing the store's batches.
     */
    const submitAll = <K extends Task.Any>(kind: K, payloads: Iterable<Task.Payload<K>>, options?: SubmitOptions) =>
      Effect.suspend(() => {
        const admitted: Array<Admitted> = []
        for (const payload of payloads) {
          // one id cannot name many tasks: each gets its own
          const one = admit(kind.name, payload, false, options?.id === undefined ? options : { ...options, id: undefined })
          if (Exit.isExit(one)) {
            for (const done of admitted) unadmit(done)
            dispatch()
            return one
          }
          admitted.push(one)
        }
        return store.insertAll === undefined
          ? Effect.forEach(admitted, record, { concurrency: "unbounded" })
          : recordAll(admitted, store.insertAll)
      }) as Effect.Effect<Array<TaskHandle<Task.Success<K>, Task.Error<K>>>, SubmitError>

    const submit = <K extends Task.Any>(kind: K, payload: Task.Payload<K>, options?: SubmitOptions) =>
      submitAny(kind.name, payload, false, options) as Effect.Effect<
        TaskHandle<Task.Success<K>, Task.Error<K>>,
        SubmitError
      >

    const submitEncoded = (name: string, encoded: unknown, options?: SubmitOptions) =>
      submitAny(name, encoded, true, options)

    // -- reading, awaiting, interrupting --------------------------------------

    /** The stored record of a task this process does not hold (any more). */
    const stored = (id: string): Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError> =>
      Effect.flatMap(store.get(id), (option) => Option.isSome(option) ? Effect.succeed(option.value) : Effect.fail(notFound(id)))

    const get = (id: string): Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError> =>
      Effect.suspend(() => {
        const entry = entries.get(id)
        return entry !== undefined ? Effect.succeed(entry.info) : stored(id)
      })

    const awaitInfo = (id: string): Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError> =>
      Effect.suspend(() => {
        const entry = entries.get(id)
        // Not held here: it ended (or was never this process's), so its record is read once, with no second lookup.
        if (entry === undefined) {
          const unrecorded = givenUp.get(id)
          // its final write given up here: the stored record, unless finished since (by another process) or another
          // task's (the id deleted and used again, here or elsewhere), is not its end
          return unrecorded === undefined ? stored(id) : Effect.flatMap(stored(id), (info) =>
            isTerminal(info.status) || info.createdAt !== unrecorded.createdAt
              ? Effect.succeed(info)
              : Effect.fail(unrecorded.error))
        }
        if (entry.done === undefined) entry.done = Deferred.makeUnsafe<TaskInfo, TaskStoreError>()
        return Deferred.await(entry.done)
      })

    /** The typed outcome of a final record, as `kind` (else the registered kind of its name) decodes it. */
    const exitOf = (info: TaskInfo, kind: Task.Any | undefined) => {
      const known = kind ?? registry.get(info.kind)?.kind
      // Unknown kind here: the outcome cannot be decoded, only told as an interruption.
      return known === undefined
        ? Effect.succeed(Exit.interrupt() as Exit.Exit<unknown, unknown>)
        : codec.forKind(known).exitFromInfo(info)
    }

    /**
     * A handle's await. `final`: the task's `FinalRecord` when the handle was made at submission; once the final
     * record is committed here, it is the outcome, told without a store read (a record deleted since included:
     * the handle followed its task to its end). A final record never changes, so when it is there as the await is
     * made, the outcome itself (an `Exit`, an effect already done) is the await: no suspension per task.
     */
    const awaitExit = (id: string, kind: Task.Any | undefined, final?: FinalRecord) =>
      final?.info !== undefined ? exitOf(final.info, kind) : Effect.suspend(() => {
        if (final?.info !== undefined) return exitOf(final.info, kind)
        const unrecorded = final === undefined ? undefined : unrecordedFinals.get(final)
        return unrecorded !== undefined ? Effect.fail(unrecorded) : Effect.flatMap(awaitInfo(id), (info) => exitOf(info, kind))
      })

    const watch = (id: string): Stream.Stream<TaskInfo, TaskNotFound | TaskStoreError> =>
      Stream.unwrap(Effect.sync(() => {
        const entry = entries.get(id)
        if (entry === undefined) return Stream.fromEffect(get(id))
        return Stream.callback<TaskInfo, TaskStoreError>((queue) =>
          Effect.acquireRelease(
            Effect.sync(() => {
              const live = entries.get(id)
              Queue.offerUnsafe(queue, entry.info)
              // a held task's record is never terminal (its final one is shown once committed, as it is let go)
              if (live === undefined) {
                Queue.endUnsafe(queue)
                return
              }
              if (entry.listeners === undefined) entry.listeners = new Set()
              entry.listeners.add(queue)
            }),
            () => Effect.sync(() => entry.listeners?.delete(queue))
          )
        )
      }))

    /** Stores a task recorded running at submission back as pending (it never started: its entry holds it so) and releases it. */
    const notStarted = (entry: Entry): Effect.Effect<void> =>
      Effect.suspend(() =>
        store.update(entry.info).pipe(
          Effect.catchCause((cause) => Effect.logError("chainjobs: could not store task", entry.id, "back as pending", cause)),
          Effect.ensuring(Effect.sync(() => release(entry)))
        )
      )

    /** Records a task that never started as interrupted and forgets it. */
    const interruptPending = (entry: Entry): Effect.Effect<void, TaskStoreError> =>
      Effect.suspend(() =>
        store.update(entry.settle(interruptedBeforeStart, now())).pipe(
          Effect.ensuring(Effect.sync(() => release(entry)))
        )
      )

    const interrupt = (id: string): Effect.Effect<void, TaskNotFound | TaskStoreError> =>
      Effect.suspend(() => {
        const entry = entries.get(id)
        if (entry === undefined) {
          dormant.drop(id)
          return Effect.asVoid(get(id))
        }
        entry.stop(Interrupt)
        if (entry.fiber === undefined && admission.withdraw(entry)) return interruptPending(entry)
        // Running: its fiber is interrupted. Still being recorded: submit sees the request and never queues it.
        return Effect.asVoid(awaitInfo(id))
      })

    /** Deletes a record, interrupting its task first, and tells the followers of all tasks (once, if two deletions race). */
    const remove = (id: string): Effect.Effect<void, TaskNotFound | TaskStoreError> =>
      Effect.andThen(
        interrupt(id),
        Effect.flatMap(get(id), (info) =>
          Effect.map(store.remove(id), (removed) => {
            finals.delete(id)
            if (removed) publisher.deleted(info)
          }))
      )

    /** Purges finished records and tells the followers of all tasks of each deletion. */
    const purge = (filter: PurgeFilter): Effect.Effect<ReadonlyArray<TaskInfo>, TaskStoreError> =>
      Effect.tap(store.purge(filter), (purged) =>
        Effect.sync(() =>
          purged.forEach((info) => {
            finals.delete(info.id)
            if (entries.has(info.id)) purgedHeld.add(info.id)
            publisher.deleted(info)
          })
        ))

    /** Tells of a recovered record that failed as lost. */
    const announceLost = (record: TaskInfo) => publisher.announce(record, "Finished")

    /** Holds and queues a record recovered here. */
    const admitRecovered = (entry: Entry) => {
      hold(entry)
      enqueue(entry, undefined)
    }

    const adopt = (id: string): Effect.Effect<void, TaskNotFound | TaskStoreError> =>
      Effect.suspend(() => {
        if (entries.has(id)) return Effect.void
        return Effect.flatMap(store.get(id), (option): Effect.Effect<void, TaskNotFound | TaskStoreError> => {
          if (Option.isNone(option)) return Effect.fail(notFound(id))
          const info = option.value
          // Checked again after the read: a concurrent adopt or submit may hold it by now.
          if (isTerminal(info.status) || entries.has(id)) return Effect.void
          const registered = registry.get(info.kind)
          if (registered === undefined) return Effect.sync(() => dormant.add(info))
          return lifecycle.recover(store, now(), registered, info, admitRecovered, announceLost, config.runner)
        })
      })

    const handOff = (id: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const entry = entries.get(id)
        if (entry === undefined) {
          dormant.drop(id)
          return Effect.void
        }
        if (entry.fiber === undefined && admission.withdraw(entry)) {
          // Waiting here: it stays pending in the store.
          forget(entry)
          return Effect.void
        }
        // Running, or still being recorded (then it never starts here and is stored pending): returns once let go.
        entry.stop(HandOff)
        return Effect.ignore(awaitInfo(id))
      })

    const operations: HandleOperations = { get, awaitExit, watch, interrupt }
    const makeHandle = (id: string, kind: Task.Any | undefined, kindName = kind?.name ?? ""): TaskHandle<any, any> =>
      new LiveTaskHandle(id, kindName, kind, operations)

    const handle = (id: string, kind?: Task.Any): Effect.Effect<TaskHandle<any, any>, TaskNotFound | TaskStoreError> =>
      Effect.flatMap(get(id), (info) => {
        if (kind !== undefined && kind.name !== info.kind) {
          return Effect.fail(new TaskNotFound({ id, kindMismatch: { expected: kind.name, actual: info.kind } }))
        }
        return Effect.succeed(makeHandle(id, kind ?? registry.get(info.kind)?.kind, info.kind))
      })

    // -- registration, recovery, background work, shutdown ----------------------

    const register = (kind: Task.Any, handler: Registered["handler"], handlerContext: Context.Context<any>) =>
      Effect.suspend(() => {
        const registered: Registered = {
          kind,
          handler,
          codec: codec.forKind(kind),
          context: Context.merge(context, handlerContext)
        }
        registry.set(kind.name, registered)
        return Effect.forEach(
          dormant.take(kind.name),
          (info) => lifecycle.recover(store, now(), registered, info, admitRecovered, announceLost, config.runner),
          { discard: true }
        ).pipe(
          Effect.catchCause((cause) => Effect.logError("chainjobs: recovering tasks of kind", kind.name, "failed", cause))
        )
      })

    yield* Effect.forkScoped(lifecycle.watchdog(admission, now, config.heartbeatCheckInterval))
    yield* Effect.forkScoped(lifecycle.retentionSweep(purge, now, config.retentionSweepInterval))
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        publisher.refuseNew()
        return lifecycle.shutdown({
          admission,
          gracePeriod: config.shutdownGracePeriod,
          awaitFinished: (entry) => Effect.ignore(awaitInfo(entry.id)),
          forget
        })
      }).pipe(Effect.ensuring(Effect.sync(() => publisher.close())))
    )

    const tasks: Tasks["Service"] = Tasks.of({
      register,
      kinds: Effect.sync(() => Array.from(registry.values(), (r) => r.kind)),
      submit,
      submitAll,
      submitEncoded,
      run: (kind, payload, options) => Effect.flatMap(submit(kind, payload, options), (handle) => handle.join),
      handle,
      get,
      awaitInfo,
      watch,
      list: (query) => store.list(query),
      count: (query) => store.count(query),
      interrupt,
      delete: remove,
      purge: (filter) => Effect.map(purge(filter), (purged) => purged.length),
      adopt,
      handOff,
      events: publisher.events,
      changes: publisher.changes,
      changesAndDeletions: publisher.changesAndDeletions,
      stats: Effect.sync(() => ({
        pending: admission.pendingCount,
        running: admission.runningCount,
        maxWorkers: admission.maxWorkers,
        runningByKind: admission.runningByKindRecord(),
        accepting: admission.isOpen
      })),
      schedule: (kind, payload, options) =>
        Effect.andThen(validate(kind, payload), Schedules.schedule(tasks, scope, kind, payload, options)),
      daemon: (kind, payload, options) =>
        Effect.andThen(validate(kind, payload), Schedules.daemon(tasks, scope, kind, payload, options))
    })
    peeks.set(tasks, (id) => entries.get(id)?.info ?? finals.get(id))
    workerReads.set(tasks, (kind) => admission.hasFreeWorker(kind.name, kind.policy.concurrency))
    return tasks
  })

/** The supervisor as a layer, reading its settings from `TasksConfig`. Requires a `TaskStore`. */
export const layerConfig: Layer.Layer<Tasks, never, TaskStore | TasksConfig.TasksConfig> = Layer.effect(Tasks, make)

/** The supervisor as a layer, with the given settings over the defaults. Requires a `TaskStore`. */
export const layer = (options?: Partial<TasksConfig.TasksConfig["Service"]>): Layer.Layer<Tasks, never, TaskStore> =>
  Layer.provide(layerConfig, TasksConfig.layer(options))
