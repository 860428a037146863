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
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Layer,
  Option,
  Queue,
  Schedule,
  Scope,
  Stream
} from "effect"
import * as codec from "./internal/codec.ts"
import {
  type Entry,
  type HandleOperations,
  LiveTaskContext,
  LiveTaskHandle,
  type Registered,
  type Shared,
  slotOf
} from "./internal/entry.ts"
import { PendingQueue } from "./internal/PendingQueue.ts"
import { uuidv7 } from "./internal/uuid.ts"
import * as Schedules from "./Schedules.ts"
import type * as Task from "./TaskKind.ts"
import { TaskContext } from "./TaskContext.ts"
import {
  InvalidPayload,
  type ResultDecodeError,
  SubmitRejected,
  TaskAborted,
  TaskNotFound,
  type TaskStoreError,
  UnknownTaskKind
} from "./TaskError.ts"
import type { TaskHandle } from "./TaskHandle.ts"
import { isTerminal, type TaskInfo } from "./TaskInfo.ts"
import type { SubmitOptions } from "./TaskPolicy.ts"
import type { PurgeFilter, TaskPage, TaskQuery } from "./TaskQuery.ts"
import { TaskStore } from "./TaskStore.ts"
import * as TasksConfig from "./TasksConfig.ts"

/** Options of one submission (defined with the policy it overrides). */
export type { SubmitOptions } from "./TaskPolicy.ts"

/** Counts of what the supervisor holds right now. */
export interface TaskStats {
  readonly pending: number
  readonly running: number
  readonly maxWorkers: number
  /** Running tasks per kind. */
  readonly runningByKind: Readonly<Record<string, number>>
  readonly accepting: boolean
}

/** Errors of submitting a task. */
export type SubmitError = InvalidPayload | SubmitRejected | UnknownTaskKind | TaskStoreError

/** The supervisor service. */
export class Tasks extends Context.Service<Tasks, {
  /** Registers the handler of a kind (use `Task.implement`); tasks of the kind recovered from the store start now. */
  register<R>(
    kind: Task.Any,
    handler: (payload: any) => Effect.Effect<unknown, unknown, R>,
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
  /** Submits a task by kind name with an encoded payload (a remote caller's), decoding it first. */
  submitEncoded(kind: string, payload: unknown, options?: SubmitOptions): Effect.Effect<TaskHandle<unknown, unknown>, SubmitError>
  /** Submits a task and waits for its result (the seeds' synchronous mode). */
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
  /** Interrupts a task (a pending one never starts) and waits until it has stopped. */
  interrupt(id: string): Effect.Effect<void, TaskNotFound | TaskStoreError>
  /** Deletes a task's record, interrupting it first if it has not finished. */
  delete(id: string): Effect.Effect<void, TaskNotFound | TaskStoreError>
  /** Deletes finished records by age and status; returns how many. */
  purge(filter: PurgeFilter): Effect.Effect<number, TaskStoreError>
  /** Every change of every task, from now on. */
  readonly events: Stream.Stream<TaskInfo>
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

/** Marks a defect as retryable while a kind's retry policy asks for defect retries. */
class RetryableDefect {
  readonly defect: unknown
  constructor(defect: unknown) {
    this.defect = defect
  }
}

/** How often the final record of a task is written again before the failure is only logged. */
const finalWriteRetries = Schedule.exponential("100 millis").pipe(Schedule.upTo({ times: 5 }))

/** The fields of a record that finishes at `at`: when, and until when it is kept. */
const finishedAt = (kind: Task.Any, at: number) => ({ finishedAt: at, expiresAt: at + kind.policy.retentionMillis })

const unknownKind = (name: string) => new UnknownTaskKind({ kind: name, message: `no task kind "${name}" is registered` })

/** Makes a supervisor in the current scope; closing the scope shuts it down gracefully. */
export const make: Effect.Effect<Tasks["Service"], never, TaskStore | TasksConfig.TasksConfig | Scope.Scope> = Effect.gen(function*() {
  const config = yield* TasksConfig.TasksConfig
  const store = yield* TaskStore
  const clock = yield* Clock.Clock
  const context = yield* Effect.context<never>()
  const scope = yield* Scope.Scope
  const now = () => clock.currentTimeMillisUnsafe()

  const registry = new Map<string, Registered>()
  /** Records found unfinished at start whose kind is not registered yet. */
  const dormant = new Map<string, Array<TaskInfo>>()
  const entries = new Map<string, Entry>()
  const pending = new PendingQueue<Entry>()
  const running = new Set<Entry>()
  const runningByKind = new Map<string, number>()
  const runningByKey = new Map<string, number>()
  /** Unfinished tasks per key, in submission order. */
  const keyHolders = new Map<string, Array<Entry>>()
  /** The queues of open `events` streams (every change of every task). */
  const watchers = new Set<Queue.Queue<TaskInfo, Cause.Done>>()
  let accepting = true

  const bump = (map: Map<string, number>, key: string, by: number) => {
    const n = (map.get(key) ?? 0) + by
    if (n === 0) map.delete(key)
    else map.set(key, n)
  }

  const publish = (entry: Entry) => {
    const info = entry.info
    if (entry.listeners !== undefined) for (const queue of entry.listeners) Queue.offerUnsafe(queue, info)
    for (const queue of watchers) Queue.offerUnsafe(queue, info)
  }
  const shared: Shared = { store, now, publish }

  // ---------------------------------------------------------------------------
  // admission
  // ---------------------------------------------------------------------------

  const canStart = (entry: Entry): boolean => {
    const policy = entry.registered.kind.policy
    if ((runningByKind.get(entry.info.kind) ?? 0) >= policy.concurrency) return false
    return entry.slot === null || (runningByKey.get(entry.slot) ?? 0) < policy.keyConcurrency
  }

  let dispatching = false
  let dispatchAgain = false
  /** Starts waiting tasks while limits allow. Re-entrant calls (a task finishing synchronously) loop instead of recursing. */
  const dispatch = (): void => {
    if (dispatching) {
      dispatchAgain = true
      return
    }
    dispatching = true
    try {
      do {
        dispatchAgain = false
        while (accepting && running.size < config.maxWorkers && pending.size > 0) {
          const entry = pending.take(canStart)
          if (entry === undefined) break
          start(entry)
        }
      } while (dispatchAgain)
    } finally {
      dispatching = false
    }
  }

  const start = (entry: Entry) => {
    running.add(entry)
    bump(runningByKind, entry.info.kind, 1)
    if (entry.slot !== null) bump(runningByKey, entry.slot, 1)
    entry.fiber = Effect.runForkWith(Context.add(entry.registered.context, TaskContext, new LiveTaskContext(entry, shared)))(
      runTask(entry)
    )
  }

  // ---------------------------------------------------------------------------
  // running one task
  // ---------------------------------------------------------------------------

  /** One attempt: mark running, run the handler under the kind's timeout. */
  const attemptOnce = (entry: Entry, first: boolean): Effect.Effect<unknown, unknown> =>
    Effect.suspend(() => {
      const { kind, handler } = entry.registered
      const policy = kind.policy
      const at = now()
      const attempt = first ? entry.info.attempt : entry.info.attempt + 1
      entry.backingOff = false
      entry.info = {
        ...entry.info,
        status: "running",
        attempt,
        startedAt: entry.info.startedAt ?? at,
        heartbeatAt: at
      }
      publish(entry)
      // Each attempt gets a scope of its own: a handler's finalizers run when the attempt ends.
      let effect = Effect.scoped(handler(entry.payload) as Effect.Effect<unknown, unknown, Scope.Scope>)
      if (policy.timeoutMillis !== undefined) {
        const timeoutMillis = policy.timeoutMillis
        effect = Effect.timeoutOrElse(effect, {
          duration: timeoutMillis,
          orElse: () =>
            Effect.fail(
              new TaskAborted({ id: entry.info.id, reason: "timeout", message: `timed out after ${Duration.format(Duration.millis(timeoutMillis))}` })
            )
        })
      }
      if (policy.retry?.defects === true) {
        effect = Effect.catchDefect(effect, (defect) => Effect.fail(new RetryableDefect(defect)))
      }
      return Effect.andThen(Effect.orDie(store.update(entry.info)), effect)
    })

  const attempts = (entry: Entry): Effect.Effect<unknown, unknown> => {
    const retry = entry.registered.kind.policy.retry
    if (retry === undefined) return attemptOnce(entry, true)
    let first = true
    const doNotRetry = retry.doNotRetry ?? []
    return Effect.suspend(() => {
      const isFirst = first
      first = false
      return attemptOnce(entry, isFirst)
    }).pipe(
      Effect.onError(() =>
        Effect.sync(() => {
          entry.backingOff = true
        })
      ),
      Effect.retry({
        schedule: retry.schedule,
        while: (error: unknown) =>
          !(error instanceof TaskAborted) &&
          !(typeof error === "object" && error !== null && "_tag" in error && doNotRetry.includes(String(error._tag)))
      }),
      Effect.catchIf(
        (error): error is RetryableDefect => error instanceof RetryableDefect,
        (error) => Effect.die(error.defect)
      )
    )
  }

  const runTask = (entry: Entry): Effect.Effect<void> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.exit(restore(attempts(entry))), (exit) => finish(entry, exit))
    )

  /** Records a task's outcome, wakes its waiters, frees its slot and starts the next tasks. */
  const finish = (entry: Entry, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const { kind } = entry.registered
      const at = now()
      let outcome: codec.Outcome
      if (entry.stoppedBy === "heartbeat" && Exit.isFailure(exit)) {
        outcome = {
          status: "failed",
          reason: "heartbeat",
          result: null,
          error: null,
          errorMessage: `no heartbeat for over ${Duration.format(Duration.millis(kind.policy.heartbeatTimeoutMillis ?? 0))}`
        }
      } else if (entry.stoppedBy === "shutdown" && Exit.isFailure(exit) && kind.policy.onRestart === "resume") {
        // Left for the next process to resume from its checkpoint.
        outcome = { status: "pending", reason: null, result: null, error: null, errorMessage: null }
      } else {
        outcome = entry.registered.codec.outcome(exit)
      }
      const finished = outcome.status !== "pending"
      entry.info = {
        ...entry.info,
        ...outcome,
        attempt: finished ? entry.info.attempt : entry.info.attempt + 1,
        ...(finished ? finishedAt(kind, at) : { finishedAt: null, expiresAt: null })
      }
      const write = store.update(entry.info)
      // retried only once it failed: a retry schedule costs an allocation per task otherwise
      return Effect.flatMap(Effect.exit(Effect.catch(write, () => Effect.retry(write, finalWriteRetries))), (written) => {
        release(entry)
        return Exit.isSuccess(written)
          ? Effect.void
          : Effect.logError("chainjobs: could not record the outcome of task", entry.info.id, written.cause)
      })
    })

  /** Forgets a finished (or shut-down) task: frees its slots and key, wakes waiters, starts the next tasks. */
  const release = (entry: Entry) => {
    if (running.delete(entry)) {
      bump(runningByKind, entry.info.kind, -1)
      if (entry.slot !== null) bump(runningByKey, entry.slot, -1)
    }
    publish(entry)
    forget(entry)
    dispatch()
  }

  const releaseKey = (entry: Entry) => {
    if (entry.slot === null) return
    const holders = keyHolders.get(entry.slot)
    if (holders === undefined) return
    const index = holders.indexOf(entry)
    if (index >= 0) holders.splice(index, 1)
    if (holders.length === 0) keyHolders.delete(entry.slot)
  }

  // ---------------------------------------------------------------------------
  // submission
  // ---------------------------------------------------------------------------

  const addEntry = (info: TaskInfo, registered: Registered, payload: unknown): Entry => {
    const entry: Entry = {
      info,
      registered,
      payload,
      fiber: undefined,
      done: undefined,
      listeners: undefined,
      stoppedBy: undefined,
      backingOff: false,
      slot: slotOf(info.kind, info.key)
    }
    entries.set(info.id, entry)
    if (entry.slot !== null) {
      const holders = keyHolders.get(entry.slot)
      if (holders === undefined) keyHolders.set(entry.slot, [entry])
      else holders.push(entry)
    }
    return entry
  }

  const enqueue = (entry: Entry) => {
    pending.push(entry, entry.info.priority)
    publish(entry)
    dispatch()
  }

  /** Checks, before anything is scheduled, that a kind is registered and a payload fits it. */
  const validate = (kind: Task.Any, payload: unknown): Effect.Effect<void, InvalidPayload | UnknownTaskKind> =>
    Effect.suspend((): Effect.Effect<void, InvalidPayload | UnknownTaskKind> => {
      const registered = registry.get(kind.name)
      return registered === undefined ? Effect.fail(unknownKind(kind.name)) : Effect.asVoid(registered.codec.encodePayload(payload))
    })

  /**
   * Validates and records a task, then queues it. `input` is the typed payload, or
   * the encoded one when `fromEncoded` (a remote caller's). Everything before the
   * store write is synchronous, so concurrent submissions see each other's keys.
   */
  const submitAny = (
    name: string,
    input: unknown,
    fromEncoded: boolean,
    options: SubmitOptions | undefined
  ): Effect.Effect<TaskHandle<any, any>, SubmitError> =>
    Effect.suspend((): Effect.Effect<TaskHandle<any, any>, SubmitError> => {
      const registered = registry.get(name)
      if (registered === undefined) return Effect.fail(unknownKind(name))
      const kind = registered.kind
      if (!accepting) {
        return Effect.fail(
          new SubmitRejected({ kind: kind.name, reason: "shutting-down", message: "the supervisor is shutting down" })
        )
      }
      const converted = fromEncoded ? registered.codec.decodePayload(input) : registered.codec.encodePayload(input)
      if (Exit.isFailure(converted)) return Effect.failCause(converted.cause)
      const payload = fromEncoded ? converted.value : input
      const priority = options?.priority ?? kind.policy.priority
      if (!Number.isFinite(priority)) {
        return Effect.fail(
          new InvalidPayload({
            kind: kind.name,
            issues: [{ path: ["priority"], message: "Expected a finite number" }],
            message: `invalid priority for task kind "${kind.name}": ${priority}`
          })
        )
      }
      const key = kind.policy.key === undefined ? null : kind.policy.key(payload)
      if (key !== null) {
        const holders = keyHolders.get(slotOf(kind.name, key)!)
        if (holders !== undefined && holders.length >= kind.policy.keyConcurrency) {
          const onConflict = options?.onConflict ?? kind.policy.onConflict
          if (onConflict === "join") return Effect.succeed(makeHandle(holders[0].info.id, kind))
          if (onConflict === "reject") {
            return Effect.fail(
              new SubmitRejected({
                kind: kind.name,
                reason: "key-busy",
                holder: holders[0].info.id,
                message: `task ${holders[0].info.id} already holds key "${key}"`
              })
            )
          }
        }
      }
      const createdAt = now()
      const info: TaskInfo = {
        id: uuidv7(createdAt),
        kind: kind.name,
        status: "pending",
        reason: null,
        priority,
        key,
        owner: options?.owner ?? null,
        attempt: 1,
        progress: 0,
        message: null,
        detail: null,
        payload: (fromEncoded ? input : converted.value) ?? null,
        result: null,
        error: null,
        errorMessage: null,
        checkpoint: null,
        createdAt,
        startedAt: null,
        finishedAt: null,
        heartbeatAt: null,
        expiresAt: null
      }
      // The entry holds its key from now on, so that concurrent submissions see the conflict.
      const entry = addEntry(info, registered, payload)
      return Effect.flatMap(Effect.exit(store.insert(info)), (written) => {
        if (Exit.isFailure(written)) {
          releaseKey(entry)
          entries.delete(info.id)
          return Effect.failCause(written.cause)
        }
        const handle = makeHandle(info.id, kind)
        // Recorded, but the supervisor began shutting down meanwhile: it stays pending for the next process.
        if (!accepting) return Effect.as(Effect.sync(() => forget(entry)), handle)
        // Interrupted while being recorded: it never starts.
        if (entry.stoppedBy === "user") return Effect.as(interruptPending(entry), handle)
        enqueue(entry)
        return Effect.succeed(handle)
      })
    })

  const submit = <K extends Task.Any>(kind: K, payload: Task.Payload<K>, options?: SubmitOptions) =>
    submitAny(kind.name, payload, false, options) as Effect.Effect<TaskHandle<Task.Success<K>, Task.Error<K>>, SubmitError>

  const submitEncoded = (name: string, encoded: unknown, options?: SubmitOptions) =>
    submitAny(name, encoded, true, options)

  // ---------------------------------------------------------------------------
  // reading, awaiting, interrupting
  // ---------------------------------------------------------------------------

  const notFound = (id: string) => new TaskNotFound({ id, message: `no task with id ${id}` })

  const get = (id: string): Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError> =>
    Effect.suspend(() => {
      const entry = entries.get(id)
      if (entry !== undefined) return Effect.succeed(entry.info)
      return Effect.flatMap(store.get(id), (option) =>
        Option.isSome(option) ? Effect.succeed(option.value) : Effect.fail(notFound(id))
      )
    })

  const awaitInfo = (id: string): Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError> =>
    Effect.suspend(() => {
      const entry = entries.get(id)
      if (entry === undefined) return get(id)
      if (entry.done === undefined) entry.done = Deferred.makeUnsafe<TaskInfo>()
      return Deferred.await(entry.done)
    })

  const awaitExit = (id: string, kind: Task.Any | undefined) =>
    Effect.flatMap(awaitInfo(id), (info) => {
      const known = kind ?? registry.get(info.kind)?.kind
      // Unknown kind here: the outcome cannot be decoded, only told as an interruption.
      return known === undefined ? Effect.succeed(Exit.interrupt() as Exit.Exit<unknown, unknown>) : codec.forKind(known).exitFromInfo(info)
    })

  const watch = (id: string): Stream.Stream<TaskInfo, TaskNotFound | TaskStoreError> =>
    Stream.unwrap(Effect.sync(() => {
      const entry = entries.get(id)
      if (entry === undefined) return Stream.fromEffect(get(id))
      return Stream.callback<TaskInfo>((queue) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const live = entries.get(id)
            Queue.offerUnsafe(queue, entry.info)
            if (live === undefined || isTerminal(entry.info.status)) {
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

  /** Records a task that never started as interrupted and forgets it. */
  const interruptPending = (entry: Entry): Effect.Effect<void, TaskStoreError> =>
    Effect.suspend(() => {
      entry.info = { ...entry.info, status: "interrupted", ...finishedAt(entry.registered.kind, now()) }
      return store.update(entry.info).pipe(Effect.ensuring(Effect.sync(() => release(entry))))
    })

  /** This process is done with a task, whatever its status: its key is free, followers end, waiters learn its last record. */
  const forget = (entry: Entry) => {
    releaseKey(entry)
    entries.delete(entry.info.id)
    if (entry.listeners !== undefined) for (const queue of entry.listeners) Queue.endUnsafe(queue)
    if (entry.done !== undefined) Deferred.doneUnsafe(entry.done, Exit.succeed(entry.info))
  }

  const interrupt = (id: string): Effect.Effect<void, TaskNotFound | TaskStoreError> =>
    Effect.suspend(() => {
      const entry = entries.get(id)
      if (entry === undefined) {
        dropDormant(id)
        return Effect.asVoid(get(id))
      }
      entry.stoppedBy ??= "user"
      if (entry.fiber === undefined && pending.remove(entry, entry.info.priority)) return interruptPending(entry)
      // Running: interrupt its fiber. Still being recorded: submit sees the request and never queues it.
      entry.fiber?.interruptUnsafe()
      return Effect.asVoid(awaitInfo(id))
    })

  const operations: HandleOperations = { get, awaitExit, watch, interrupt }
  const makeHandle = (id: string, kind: Task.Any | undefined, kindName = kind?.name ?? ""): TaskHandle<any, any> =>
    new LiveTaskHandle(id, kindName, kind, operations)

  const handle = (id: string, kind?: Task.Any): Effect.Effect<TaskHandle<any, any>, TaskNotFound | TaskStoreError> =>
    Effect.flatMap(get(id), (info) => {
      if (kind !== undefined && kind.name !== info.kind) {
        return Effect.fail(new TaskNotFound({ id, message: `task ${id} is of kind "${info.kind}", not "${kind.name}"` }))
      }
      return Effect.succeed(makeHandle(id, kind ?? registry.get(info.kind)?.kind, info.kind))
    })

  // ---------------------------------------------------------------------------
  // recovery, watchdog, retention, shutdown
  // ---------------------------------------------------------------------------

  /** Takes back a record a dead process left unfinished. */
  const recover = (registered: Registered, info: TaskInfo): Effect.Effect<void, TaskStoreError> => {
    const kind = registered.kind
    const payload = registered.codec.decodePayload(info.payload)
    if (Exit.isFailure(payload) || (info.status === "running" && kind.policy.onRestart === "fail")) {
      const lost: TaskInfo = {
        ...info,
        status: "failed",
        reason: "lost",
        errorMessage: Exit.isFailure(payload)
          ? `the stored payload no longer decodes: ${Cause.pretty(payload.cause)}`
          : "the process running the task stopped before it finished",
        ...finishedAt(kind, now())
      }
      return store.update(lost)
    }
    const resumed: TaskInfo = info.status === "running" ? { ...info, status: "pending", attempt: info.attempt + 1 } : info
    const entry = addEntry(resumed, registered, payload.value)
    return Effect.map(info.status === "running" ? store.update(resumed) : Effect.void, () => enqueue(entry))
  }

  /** Forgets a record found unfinished at start (it was interrupted or deleted before its kind registered). */
  const dropDormant = (id: string) => {
    for (const [kind, list] of dormant) {
      const index = list.findIndex((info) => info.id === id)
      if (index >= 0) {
        list.splice(index, 1)
        if (list.length === 0) dormant.delete(kind)
        return
      }
    }
  }

  const register = (kind: Task.Any, handler: Registered["handler"], handlerContext: Context.Context<any>) =>
    Effect.suspend(() => {
      const registered: Registered = {
        kind,
        handler,
        codec: codec.forKind(kind),
        context: Context.merge(context, handlerContext)
      }
      registry.set(kind.name, registered)
      const waiting = dormant.get(kind.name) ?? []
      dormant.delete(kind.name)
      return Effect.forEach(waiting, (info) => recover(registered, info), { discard: true }).pipe(
        Effect.catchCause((cause) => Effect.logError("chainjobs: recovering tasks of kind", kind.name, "failed", cause))
      )
    })

  for (const info of yield* Effect.orDie(store.unfinished)) {
    const list = dormant.get(info.kind)
    if (list === undefined) dormant.set(info.kind, [info])
    else list.push(info)
  }

  const checkHeartbeats = Effect.sync(() => {
    const at = now()
    for (const entry of running) {
      const limit = entry.registered.kind.policy.heartbeatTimeoutMillis
      if (limit === undefined || entry.stoppedBy !== undefined || entry.backingOff) continue
      if (at - (entry.info.heartbeatAt ?? at) > limit) {
        entry.stoppedBy = "heartbeat"
        entry.fiber?.interruptUnsafe()
      }
    }
  })
  yield* Effect.forkScoped(Effect.repeat(checkHeartbeats, Schedule.spaced(config.heartbeatCheckInterval)))

  const sweep = Effect.suspend(() => store.purge({ expiredBy: now() })).pipe(
    Effect.catchCause((cause) => Effect.logWarning("chainjobs: retention sweep failed", cause))
  )
  yield* Effect.forkScoped(Effect.repeat(sweep, Schedule.spaced(config.retentionSweepInterval)))

  const shutdown = Effect.gen(function*() {
    accepting = false
    const awaitAll = (list: ReadonlyArray<Entry>) =>
      Effect.forEach(list, (entry) => Effect.ignore(awaitInfo(entry.info.id)), { discard: true })
    yield* Effect.timeoutOption(awaitAll(Array.from(running)), config.shutdownGracePeriod)
    const remaining = Array.from(running)
    for (const entry of remaining) {
      entry.stoppedBy ??= "shutdown"
      entry.fiber?.interruptUnsafe()
    }
    yield* awaitAll(remaining)
    // Tasks that never started stay pending in the store for the next process; local waiters learn of the shutdown.
    for (const entry of pending.drain()) forget(entry)
    for (const queue of watchers) Queue.endUnsafe(queue)
  })
  yield* Effect.addFinalizer(() => shutdown)

  const tasks: Tasks["Service"] = Tasks.of({
    register,
    kinds: Effect.sync(() => Array.from(registry.values(), (r) => r.kind)),
    submit,
    submitEncoded,
    run: (kind, payload, options) =>
      Effect.flatMap(submit(kind, payload, options), (handle) => handle.join),
    handle,
    get,
    awaitInfo,
    watch,
    list: (query) => store.list(query),
    interrupt,
    delete: (id) => Effect.andThen(interrupt(id), Effect.asVoid(store.remove(id))),
    purge: (filter) => store.purge(filter),
    events: Stream.callback<TaskInfo>((queue) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          if (accepting) watchers.add(queue)
          else Queue.endUnsafe(queue)
        }),
        () => Effect.sync(() => watchers.delete(queue))
      )
    ),
    stats: Effect.sync(() => ({
      pending: pending.size,
      running: running.size,
      maxWorkers: config.maxWorkers,
      runningByKind: Object.fromEntries(runningByKind),
      accepting
    })),
    schedule: (kind, payload, options) =>
      Effect.andThen(validate(kind, payload), Schedules.schedule(tasks, scope, kind, payload, options)),
    daemon: (kind, payload, options) =>
      Effect.andThen(validate(kind, payload), Schedules.daemon(tasks, scope, kind, payload, options))
  })
  return tasks
})

/** The supervisor as a layer, reading its settings from `TasksConfig`. Requires a `TaskStore`. */
export const layerConfig: Layer.Layer<Tasks, never, TaskStore | TasksConfig.TasksConfig> = Layer.effect(Tasks, make)

/** The supervisor as a layer, with the given settings over the defaults. Requires a `TaskStore`. */
export const layer = (options?: Partial<TasksConfig.TasksConfig["Service"]>): Layer.Layer<Tasks, never, TaskStore> =>
  Layer.provide(layerConfig, TasksConfig.layer(options))
