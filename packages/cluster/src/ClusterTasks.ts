/**
 * The `Tasks` service of a runner: the same interface as the single-process
 * supervisor, answering for every task of the cluster.
 *
 * - `submit` (and `submitAll`, task by task) sends `Submit` to the runner owning the task's shard (see
 *   `TaskEntity.placement`; with placement `local` an unkeyed task's id is chosen to put it on a shard of this
 *   runner's while a worker is free here, `LocalPlacement`): that runner checks the exclusive key, records the
 *   task and runs it. The handle comes back once the task is recorded. When
 *   this runner owns the shard, its own supervisor admits the task with no
 *   message at all (`LocalAdmission`). A `Submit` refused before anything was
 *   admitted (the shard not open on its owner in time, or moving) is sent
 *   again, a few times within seconds (`notAdmittedRetry`). One whose handler
 *   the owner interrupted (its entity ending) is answered by the task's record:
 *   its id if recorded, else sent again likewise.
 * - `interrupt` sends `Interrupt` to the owner; the task's finalizers run there.
 * - Reads (`get`, `list`) come from the shared task store and `awaitInfo` (a handle's `join`) waits for the
 *   task's final record through the feed (`ClusterFeed.finalRecord`; the owner's `Await` only should the feed end
 *   first), so any runner answers for any task. A record `get` reads
 *   is told to the feed (`ClusterFeed.observed`): a watch that begins with it
 *   ends with the task's final record, and never hears an earlier one after it.
 * - `watch`, `changes`, `changesAndDeletions` (what `TaskFeed`, so `/api/events`
 *   and RPC `WatchAll`/`WatchChanges`, follows) and `stats` are cluster-wide,
 *   through `ClusterFeed`; `delete` tells every runner's followers too.
 * - `register`, `kinds` and `events` are this runner's: its kinds, and the
 *   events of the tasks it runs (what its metrics and log count).
 * - `schedule` and `daemon` are cluster singletons named by kind and payload:
 *   every runner may declare the same one (at start-up, from code or
 *   configuration), and it runs on one runner at a time, moving when that
 *   runner goes. Declarations are not stored: a schedule declared at start-up
 *   survives a restart of every runner because each declares it again. A
 *   daemon's singleton that stops interrupts its task without waiting on the
 *   cluster for long (`interruptOnStop`): the cluster waits for it before it
 *   releases the singleton's shard. A daemon's tasks carry its name in their
 *   ids (`daemonTaskId`), and a daemon starting on a runner first ends those
 *   an earlier run left unfinished (`endLeftOver`): the stopping runner's
 *   `Interrupt` may have died with it.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Duration, Effect, Exit, Fiber, Layer, Option, Schedule, Schema, Scope, type Stream } from "effect"
import { type ClusterError, Sharding } from "effect/cluster"
import { Schedules, Task, TaskError, type TaskHandle, TaskInfo, Tasks, TaskStore } from "@chainjobs/tasks"
import type { ClusterFeed } from "./ClusterFeed.ts"
import * as LocalAdmission from "./LocalAdmission.ts"
import * as LocalPlacement from "./LocalPlacement.ts"
import * as NotAdmitted from "./NotAdmitted.ts"
import { openTimeout } from "./OpenShards.ts"
import { hash, placement, TaskEntity } from "./TaskEntity.ts"

/** How often a task is read again while awaited, when its owner moved or died before answering. */
export const pollInterval = "100 millis"

/**
 * How long a stopping daemon's singleton waits for the `Interrupt` of its task on another runner (`interruptOnStop`);
 * the call goes on in the background after that, until the task's owner has it.
 */
export const stopInterruptWait = "1 second"

/**
 * How long the `Interrupt` of a stopping daemon's task goes on after its runner has begun to stop (its scope closed):
 * long enough for the task's shard to find its next owner, bounded so a stopped runner leaves no call behind.
 */
export const stopInterruptLinger = "30 seconds"

/** How long after its first refusal a submission is still tried again (`notAdmittedRetry`). */
const notAdmittedWindow = Duration.seconds(15)

/**
 * How a submission the shard's owner refused before admitting it is tried again (`notAdmitted`): a
 * few times, soon, within `notAdmittedWindow` (15 s). The owner's own wait for the shard to open
 * (`OpenShards.openTimeout`, 10 s) comes on top of each try, so a submission is answered within about 45 s at worst
 * (`submissionLimit`).
 */
export const notAdmittedRetry = Schedule.exponential("100 millis").pipe(Schedule.upTo({ times: 3, duration: notAdmittedWindow }))

/** What the routing of a submission's tries may add, in all, to their waits for the shard (`submissionLimit`). */
const routingAllowance = Duration.seconds(10)

/**
 * The longest a submission through the task entity takes to be answered: its first try waits for its shard to open on
 * the owner up to `OpenShards.openTimeout` and is refused; the last try again begins within `notAdmittedWindow` of
 * that refusal and waits as long; `routingAllowance` on top: 45 s. How long a stopping daemon waits for the
 * submission under way (`daemonRun`): a task recorded later than a fixed linger ran on with no daemon owning it.
 */
export const submissionLimit = Duration.sum(
  Duration.sum(Duration.times(openTimeout, 2), notAdmittedWindow),
  routingAllowance
)

/** The message of the debug log line each try again writes, with the task's id: what a test watches for. */
export const notAdmittedLog = "chainjobs: a submission was not admitted by its shard's owner, trying again"

/**
 * Whether a refusal of `Submit` means the task cannot have been admitted, so that sending it again (its id the same)
 * can neither run it twice nor lose it: the owner refused it before admitting anything because the shard did not
 * open there in time or moved (`NotAdmitted`). A store failure of the admission itself may or may not have recorded
 * the task, and is the caller's, as the single-process supervisor's is; so is a call the cluster could not deliver
 * (`routed`), at once, as `ClusterUndelivered` says.
 */
const notAdmitted = NotAdmitted.isRefusal

/** The cluster-wide singleton name of a schedule or daemon of kind `kind` and encoded payload `encoded`. */
export const singletonNameOf = (what: "schedule" | "daemon", kind: string, encoded: unknown): string =>
  `chainjobs/${what}/${kind}/${JSON.stringify(encoded)}`

/**
 * The id of a task a daemon submits: a UUID v7 made at `nowMillis` (time-ordered as every id) whose last 32 bits are
 * the hash of the daemon's singleton name, so that the runner running the daemon next finds the tasks an earlier one
 * left unfinished (`isDaemonTask`). Another task of the kind carries the same bits once in 2^32.
 */
export const daemonTaskId = (singleton: string, nowMillis: number): string =>
  `${TaskInfo.makeId(nowMillis).slice(0, -8)}${daemonMark(singleton)}`

/** Whether task `id` was submitted by the daemon named `singleton` (`daemonTaskId`). */
export const isDaemonTask = (singleton: string, id: string): boolean => id.endsWith(daemonMark(singleton))

const daemonMark = (singleton: string) => hash(singleton).toString(16).padStart(8, "0")

/**
 * How long a daemon starting on a runner tries to end the tasks an earlier run of it left unfinished (each
 * interrupted where it runs, adopted first if its shard is moving) before it starts its own all the same, warning.
 */
export const leftOverWait = "30 seconds"

/** The cluster's delivery failures of a call. */
type Undelivered =
  | ClusterError.MailboxFull
  | ClusterError.AlreadyProcessingMessage
  | ClusterError.PersistenceError
  | ClusterError.EntityNotAssignedToRunner

const undelivered = (error: Undelivered) =>
  Effect.fail(
    new TaskError.TaskStoreError({ operation: "route", detail: `the cluster could not deliver the call: ${error._tag}`, cause: error })
  )

/** Runs a cluster call, its delivery failures told as the store-unavailable error callers already handle. */
const routed = <A, E, R>(effect: Effect.Effect<A, E | Undelivered, R>): Effect.Effect<A, E | TaskError.TaskStoreError, R> =>
  Effect.catchTags(effect as Effect.Effect<A, Undelivered, R>, {
    MailboxFull: undelivered,
    AlreadyProcessingMessage: undelivered,
    PersistenceError: undelivered,
    EntityNotAssignedToRunner: undelivered
  }) as Effect.Effect<A, E | TaskError.TaskStoreError, R>

/**
 * Makes the runner's `Tasks` over its own supervisor (`local`, which runs the
 * tasks of the shards this runner owns) and the cluster; `admission` admits
 * the submissions of the shards this runner guards directly (default: none,
 * every one through the entity), and `placing` chooses the ids, so the
 * shards, of the unkeyed tasks submitted here (default: spread by their hash).
 */
export const make = Effect.fnUntraced(function*(
  local: Tasks.Tasks["Service"],
  feed: ClusterFeed,
  admission: LocalAdmission.LocalAdmission = LocalAdmission.none,
  placing: LocalPlacement.LocalPlacement = LocalPlacement.spread
) {
  const store = yield* TaskStore.TaskStore
  const clientFor = yield* TaskEntity.client
  const clock = yield* Clock.Clock
  const sharding = yield* Sharding.Sharding
  const runnerScope = yield* Scope.Scope

  /** The kinds registered through this service, by name: a submission finds its kind without listing every kind. */
  const registered = new Map<string, Task.Any>()
  const kindNamed = (name: string): Effect.Effect<Task.Any | undefined> => {
    const known = registered.get(name)
    return known !== undefined
      ? Effect.succeed(known)
      : Effect.map(local.kinds, (kinds) => kinds.find((kind) => kind.name === name))
  }

  const submitAny = (
    name: string,
    input: unknown,
    fromEncoded: boolean,
    options: Tasks.SubmitOptions | undefined
  ): Effect.Effect<TaskHandle.TaskHandle<any, any>, Tasks.SubmitError> => {
    const known = registered.get(name)
    if (known !== undefined) return submitKind(known, input, fromEncoded, options)
    return Effect.flatMap(kindNamed(name), (kind) =>
      kind === undefined
        ? Effect.fail(new TaskError.UnknownTaskKind({ kind: name }))
        : submitKind(kind, input, fromEncoded, options))
  }

  /**
   * A submission of a kind found: admitted by this runner's own supervisor when it holds the task's shard (a direct
   * admission, every local placement's path: a few steps, no generator), else sent to the shard's owner
   * (`throughEntity`).
   */
  const submitKind = (
    kind: Task.Any,
    input: unknown,
    fromEncoded: boolean,
    options: Tasks.SubmitOptions | undefined
  ): Effect.Effect<TaskHandle.TaskHandle<any, any>, Tasks.SubmitError> =>
    Effect.suspend(() => {
      let payload: Option.Option<unknown> = Option.some(input)
      if (fromEncoded) {
        // A payload that does not decode goes on all the same: the owner refuses it with the issues named.
        payload = Exit.getSuccess(Schema.decodeUnknownExit(kind.payload)(input))
      }
      const key = kind.policy.key === undefined || Option.isNone(payload) ? null : kind.policy.key(payload.value)
      const made = options?.id ?? TaskInfo.makeId(clock.currentTimeMillisUnsafe())
      // An unkeyed task with no id of its caller's: its id, so its shard, as the runner's placement chooses.
      // No wait of its own between this and the direct admission below, which takes the worker it saw free (the run
      // loop may still yield between them: then a concurrent submission can take that worker, and this task waits in
      // this runner's queue — rarely, and never on another runner).
      const placed = options?.id === undefined && key === null ? placing.place(kind, made) : Effect.succeed(made)
      return Effect.flatMap(placed, (id) => {
        const entityId = placement({ id, kind: kind.name, key })
        // This runner holds the shard: its own supervisor admits the task, no message.
        const submit = fromEncoded
          ? local.submitEncoded(kind.name, input, { ...options, id })
          : local.submit(kind, input, { ...options, id })
        return Effect.flatMap(admission.submit(entityId, id, submit), (direct) =>
          Option.isSome(direct)
            // its await takes the supervisor's final record, as a handle of the supervisor's own (`operations.awaitExit`)
            ? Effect.succeed(Tasks.makeHandle(direct.value.id, kind.name, kind, operations, direct.value))
            : throughEntity(kind, id, entityId, input, fromEncoded, options))
      })
    })

  /** A submission sent to the owner of its shard (`entityId`), another runner or a shard of this one not guarded here. */
  const throughEntity = (
    kind: Task.Any,
    id: string,
    entityId: string,
    input: unknown,
    fromEncoded: boolean,
    options: Tasks.SubmitOptions | undefined
  ): Effect.Effect<TaskHandle.TaskHandle<any, any>, Tasks.SubmitError> =>
    Effect.gen(function*() {
      const encoded = fromEncoded ? input : yield* Task.encodePayload(kind, input as never)
      // A caller-chosen id may be another submission's record already: read first, so that a record found after the
      // owner interrupted this submission's handler (`answeredByRecord`) is told as this one's only if it was not
      // there before the send (one another submission made after this read is told as this one's all the same).
      const recordedBefore = options?.id === undefined ? false : Option.isSome(yield* store.get(id))
      const send = clientFor(entityId).Submit({
        id,
        kind: kind.name,
        payload: encoded,
        priority: options?.priority,
        owner: options?.owner,
        onConflict: options?.onConflict,
        timeoutMillis: options?.timeoutMillis,
        heartbeatTimeoutMillis: options?.heartbeatTimeoutMillis,
        retries: options?.retries
      })
      // A fresh id's task is followed from before it is sent, wherever it is placed (here too: the feed hears this
      // runner's own final records as well as the others'): its join then needs no read of the record
      // (`ClusterFeed.expect`). Withdrawn if the submission fails or joins another task.
      const withdraw = options?.id === undefined ? feed.expect(id) : undefined
      const reply = yield* routed(send.pipe(
        (sent) => answeredByRecord(sent, id, kind.name, recordedBefore),
        Effect.tapError((error) => notAdmitted(error) ? Effect.logDebug(notAdmittedLog, { id, refused: error._tag }) : Effect.void),
        Effect.retry({ schedule: notAdmittedRetry, while: notAdmitted }),
        // the tries ran out: told as the store's unavailability, which callers of `submit` handle
        Effect.catchTags({ NotAdmitted: refused, SubmitInterrupted: refused })
      )).pipe(Effect.onExit((exit) => Effect.sync(() => {
        if (withdraw !== undefined && (Exit.isFailure(exit) || exit.value.id !== id)) withdraw()
      })))
      return Tasks.makeHandle(reply.id, kind.name, kind, operations)
    })

  /** A refusal told once the tries ran out. */
  const refused = (refusal: NotAdmitted.NotAdmitted | NotAdmitted.SubmitInterrupted) => Effect.fail(NotAdmitted.toStoreError(refusal))

  /**
   * `sent` (a `Submit` of task `id`, of kind `kind`), its handler's interruption on the owner answered by the task's
   * record. The owner's entity ending (its shard moving, or lost) interrupts a handler that has not answered: one whose
   * task was recorded, too (its `Run` to the ending entity is refused so). The handler has finished (its insert, not
   * interruptible, with it). The caller's own interruption is caught here too, but goes on at once: an interrupted
   * fiber's next asynchronous step (the store's read) fails with its interruption. Recorded by this submission: the
   * task's id (its hand-over and adoption are the entity's and the next owner's). Recorded before it was sent
   * (`recordedBefore`: a caller-chosen id of another submission's task): refused as already existing, what the owner
   * answers such an id when nothing comes first — not always what it would have answered: a keyed task whose key is
   * busy meets its conflict rule first there (the holder's id when it joins, `SubmitRejected` when it rejects), which
   * an interrupted handler's record does not tell. A record another submission made between that read and this
   * one's interruption is still told as this one's (the id is the caller's; not told apart). No record: nothing was
   * recorded (`SubmitInterrupted`), sent again as a `NotAdmitted` is.
   */
  const answeredByRecord = <E, R>(
    sent: Effect.Effect<{ readonly id: string }, E, R>,
    id: string,
    kind: string,
    recordedBefore: boolean
  ) =>
    Effect.catchCause(
      sent,
      (cause): Effect.Effect<{ readonly id: string }, E | TaskError.TaskStoreError | NotAdmitted.SubmitInterrupted> =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.flatMap(store.get(id), (found): Effect.Effect<{ readonly id: string }, TaskError.TaskStoreError | NotAdmitted.SubmitInterrupted> =>
            Option.isNone(found) || found.value.kind !== kind
              ? Effect.fail(new NotAdmitted.SubmitInterrupted({ id }))
              : recordedBefore
              ? Effect.fail(TaskStore.alreadyExists(id))
              : Effect.succeed({ id }))
          : Effect.failCause(cause)
    )

  /**
   * Waits until the task has finished, wherever it runs: its final record as the feed tells it
   * (`ClusterFeed.finalRecord`, from the runner that finishes it: no message to its owner, no reply to decode), the
   * first read being this runner's own supervisor's (it waits for a task it holds, reads the store for another), but
   * none for a task submitted from here (with a fresh id, wherever placed) and followed since (`ClusterFeed.expect`).
   * Should the feed end first (the task deleted, the runner stopping), the owner is asked instead (`awaitOwner`).
   */
  const awaitInfo = (id: string): Effect.Effect<TaskInfo.TaskInfo, TaskError.TaskNotFound | TaskError.TaskStoreError> =>
    Effect.flatMap(
      feed.finalRecord(id, local.awaitInfo(id)),
      (final) => Option.isSome(final) ? Effect.succeed(final.value) : awaitOwner(id)
    )

  /** Waits on the owner (`Await`) until the task has finished; reads the store again while it has none. */
  const awaitOwner = (id: string): Effect.Effect<TaskInfo.TaskInfo, TaskError.TaskNotFound | TaskError.TaskStoreError> =>
    Effect.flatMap(local.awaitInfo(id), (info) => {
      if (TaskInfo.isTerminal(info.status)) return Effect.succeed(info)
      // An owner that moves or dies ends the wait without an answer: then read again.
      return Effect.exit(clientFor(placement(info)).Await({ id })).pipe(
        Effect.flatMap((exit) =>
          Exit.isSuccess(exit) && TaskInfo.isTerminal(exit.value.status)
            ? Effect.succeed(exit.value)
            : Effect.andThen(Effect.sleep(pollInterval), awaitOwner(id))
        )
      )
    })

  /** A record as read here: the feed learns of it (`ClusterFeed.observed`), so that a watch beginning with it ends. */
  const get = (id: string): Effect.Effect<TaskInfo.TaskInfo, TaskError.TaskNotFound | TaskError.TaskStoreError> =>
    Effect.tap(local.get(id), feed.observed)

  const watch = (id: string): Stream.Stream<TaskInfo.TaskInfo, TaskError.TaskNotFound | TaskError.TaskStoreError> =>
    feed.watch(id, get(id))

  const interrupt = (id: string): Effect.Effect<void, TaskError.TaskNotFound | TaskError.TaskStoreError> =>
    Effect.flatMap(local.get(id), (info) =>
      TaskInfo.isTerminal(info.status) ? Effect.void : routed(clientFor(placement(info)).Interrupt({ id })))

  const handle = (id: string, kind?: Task.Any) =>
    Effect.flatMap(local.get(id), (info) => {
      if (kind !== undefined && kind.name !== info.kind) {
        return Effect.fail(new TaskError.TaskNotFound({ id, kindMismatch: { expected: kind.name, actual: info.kind } }))
      }
      return Effect.map(kindNamed(info.kind), (known) => Tasks.makeHandle(id, info.kind, kind ?? known, operations))
    })

  /**
   * What a handle is made of: the cluster service's own reads, watch and interrupt. The await of a handle this
   * runner's supervisor made at submission (`final` given: a direct admission) is the supervisor's: its final record
   * once committed here, no read and no wait through the feed (`ClusterFeed.finalRecord`), else the supervisor's own
   * wait for the task, and the cluster's only if the task left this runner unfinished (handed over as its shard moved).
   */
  const operations: Tasks.HandleOperations = {
    get: (id) => tasks.get(id),
    awaitExit: (id, known, final) => {
      const outcome = (info: TaskInfo.TaskInfo) =>
        known === undefined ? Effect.succeed(Exit.interrupt() as Exit.Exit<unknown, unknown>) : Task.outcome(known, info)
      if (final === undefined) return Effect.flatMap(tasks.awaitInfo(id), outcome)
      if (final.info !== undefined) return outcome(final.info)
      // looked at again when run: the task may have ended since this await was made
      return Effect.suspend(() =>
        final.info !== undefined ? outcome(final.info) : Effect.flatMap(local.awaitInfo(id), (info) =>
          TaskInfo.isTerminal(info.status) ? outcome(info) : Effect.flatMap(tasks.awaitInfo(id), outcome))
      )
    },
    watch: (id) => tasks.watch(id),
    interrupt: (id) => tasks.interrupt(id)
  }
  const tasks: Tasks.Tasks["Service"] = Tasks.Tasks.of({
    ...local,
    register: (kind, handler, context) =>
      Effect.tap(local.register(kind, handler, context), () => Effect.sync(() => registered.set(kind.name, kind))),
    submit: (kind, payload, options) => submitAny(kind.name, payload, false, options),
    submitEncoded: (name, payload, options) => submitAny(name, payload, true, options),
    // Each task goes to its own shard's owner; unlike one supervisor's, a bad payload fails the call
    // after the tasks before it were recorded.
    submitAll: (kind, payloads, options) =>
      Effect.forEach(Array.from(payloads), (payload) => submitAny(kind.name, payload, false, { ...options, id: undefined }), {
        concurrency: 16
      }),
    run: (kind, payload, options) => Effect.flatMap(submitAny(kind.name, payload, false, options), (h) => h.join),
    handle: handle as Tasks.Tasks["Service"]["handle"],
    get,
    awaitInfo,
    watch,
    list: (query) => store.list(query),
    interrupt,
    // Told to every runner's followers as the supervisor's own deletions are.
    delete: (id) =>
      Effect.andThen(
        interrupt(id),
        Effect.flatMap(local.get(id), (info) =>
          Effect.flatMap(store.remove(id), (removed) => removed ? feed.deleted(info) : Effect.void))
      ),
    changes: feed.changes,
    changesAndDeletions: feed.changesAndDeletions,
    stats: feed.stats,
    schedule: (kind, payload, options) =>
      Effect.flatMap(singletonName("schedule", kind, payload), (name) =>
        Effect.gen(function*() {
          let current: Schedules.Recurring | undefined
          const cancel = yield* singleton(
            name,
            Effect.flatMap(Scope.Scope, (scope) => Schedules.schedule(tasks, scope, kind, payload, options)).pipe(
              Effect.tap((recurring) => Effect.sync(() => (current = recurring))),
              Effect.andThen(Effect.never),
              Effect.ensuring(Effect.sync(() => (current = undefined)))
            )
          )
          return {
            cancel,
            lastTask: Effect.suspend(() => current?.lastTask ?? Effect.succeed(Option.none()))
          }
        })),
    daemon: (kind, payload, options) =>
      Effect.flatMap(singletonName("daemon", kind, payload), (name) =>
        Effect.gen(function*() {
          let current: Schedules.Daemon | undefined
          const stop = yield* singleton(
            name,
            Effect.suspend(() => {
              // this run of the singleton here: its submissions, which its stop ends
              const run = daemonRun(name)
              let daemon: Schedules.Daemon | undefined
              // started and known in one step: the stop reaches every daemon whose loop runs
              const start = (scope: Scope.Scope) =>
                Effect.uninterruptible(Effect.tap(
                  Schedules.daemon(run.submitter, scope, kind, payload, options),
                  (started) => Effect.sync(() => (current = daemon = started))
                ))
              return Effect.flatMap(Scope.Scope, (scope) => Effect.andThen(endLeftOver(kind.name, name), start(scope))).pipe(
                Effect.andThen(Effect.never),
                Effect.onInterrupt(() => run.stop(daemon)),
                Effect.ensuring(Effect.sync(() => (current = undefined)))
              )
            })
          )
          return {
            current: Effect.suspend(() => current?.current ?? Effect.succeed(Option.none())),
            starts: Effect.suspend(() => current?.starts ?? Effect.succeed(0)),
            stop
          }
        }))
  })

  /**
   * One run of daemon `singleton`'s singleton on this runner: the submitter its daemon submits through, and its stop.
   * Its tasks carry its name (`daemonTaskId`). A submission is made in a fiber of its own, which the daemon's loop
   * waits on: an interrupted loop never cuts a submission halfway (the owner may record a task after its caller
   * gave up on it). The stop, begun when the cluster stops the singleton (its shard going, this runner stopping, or
   * the declaration withdrawn), makes every later submission wait for the loop's interruption, which comes next, so
   * none begins once it stops; stops the daemon (its loop, and its current task); then waits for the submission
   * under way, if any, and interrupts its task once recorded (`interruptOnStop`): waited for at most
   * `stopInterruptWait`, then in the background for as long as a submission can take (`submissionLimit`; a fixed
   * 30 s was shorter than a submission whose shard opens late on its owner). Without it a task submitted as its
   * singleton stopped ran on with no singleton owning it, beside the one of the daemon's next run.
   */
  const daemonRun = (singleton: string) => {
    let stopping = false
    /** The latest submission: its task's id, and the fiber making it. */
    let latest: { readonly id: string; readonly fiber: Fiber.Fiber<TaskHandle.TaskHandle<any, any>, unknown> } | undefined
    const submitter: Schedules.Submitter = {
      ...tasks,
      submit: (kind, payload, options) =>
        Effect.suspend(() => {
          if (stopping) return Effect.never
          const id = daemonTaskId(singleton, clock.currentTimeMillisUnsafe())
          // made and known in one step: a loop interrupted in between would leave a submission the stop never sees
          const started = Effect.uninterruptible(Effect.tap(
            Effect.forkDetach(tasks.submit(kind, payload, { ...options, id }), { startImmediately: true }),
            (fiber) => Effect.sync(() => (latest = { id, fiber }))
          ))
          return Effect.flatMap(started, Fiber.join)
        }) as ReturnType<Schedules.Submitter["submit"]>,
      interrupt: interruptOnStop
    }
    /**
     * Ends the task of the latest submission, once it is answered (within `submissionLimit`), unless the daemon's stop
     * interrupted it already. A submission not answered by then is warned of: its task, if recorded after, is left to
     * the daemon's next run.
     */
    const endLatest = (interrupted: string | undefined) =>
      Effect.suspend(() => {
        if (latest === undefined || latest.id === interrupted) return Effect.void
        const { fiber, id } = latest
        return Effect.flatMap(Effect.timeoutOption(Fiber.await(fiber), submissionLimit), (answered) => {
          if (Option.isNone(answered)) {
            return Effect.logWarning(
              `chainjobs: the submission of task ${id} by stopped daemon ${singleton} was not answered within ` +
                `${Duration.format(submissionLimit)}: it is left to the daemon's next run if recorded`
            )
          }
          return Exit.isSuccess(answered.value) ? interruptOnStop(answered.value.value.id) : Effect.void
        })
      })
    const stop = (daemon: Schedules.Daemon | undefined): Effect.Effect<void> =>
      Effect.gen(function*() {
        stopping = true
        // no daemon started: its loop never ran, nothing was submitted
        if (daemon === undefined) return
        // what the daemon's own stop interrupts: its current task, the one its loop had from the latest submission
        const interrupted = Option.getOrUndefined(yield* daemon.current)
        yield* daemon.stop
        // detached, bounded by `submissionLimit` (then `interruptOnStop`'s own): a submission outlives the stop
        const ending = yield* Effect.forkDetach(endLatest(interrupted), { startImmediately: true })
        yield* Effect.timeoutOption(Fiber.join(ending), stopInterruptWait)
      })
    return { submitter, stop }
  }

  /**
   * Interrupts the task of a daemon whose singleton stops. The cluster stops a singleton while it releases the
   * singleton's shard, and waits for it before it lets the shard go: a call through the cluster there can wait for a
   * shard nobody holds, this runner's own among them (all its shards are force-released when its shard locks look
   * unhealthy), and the release, so the runner, would wait forever. So a task this runner runs is interrupted by its
   * own supervisor, no message; a task elsewhere (or handed over meanwhile, waiting for its shard's next owner) is
   * sent `Interrupt`, waited for at most `stopInterruptWait`, and the call goes on detached after that, for at most
   * `stopInterruptLinger`, until the task's owner, adopting it if need be, interrupts it.
   */
  const interruptOnStop = (id: string): Effect.Effect<void> => {
    const warn = (cause: Cause.Cause<unknown>) =>
      Effect.logWarning(`chainjobs: could not interrupt task ${id} of a stopping daemon`, cause)
    return Effect.gen(function*() {
      const here = yield* Effect.andThen(local.interrupt(id), local.get(id))
      if (TaskInfo.isTerminal(here.status)) return
      // Detached, bounded by `stopInterruptLinger`: a delivery still going when the runner stops (its scope closing)
      // goes on, as it must when the stop itself is a graceful one — a fiber forked into a closing scope never runs.
      const delivery = yield* Effect.forkDetach(
        Effect.asVoid(Effect.timeoutOption(Effect.catchCause(interrupt(id), warn), stopInterruptLinger)),
        { startImmediately: true }
      )
      yield* Effect.timeoutOption(Fiber.join(delivery), stopInterruptWait)
    }).pipe(Effect.catchCause(warn))
  }

  /**
   * Ends the tasks of daemon `singleton` (of kind `kindName`) left unfinished by an earlier run of it, before this
   * runner starts its own: the `Interrupt` a stopping runner sends its daemon's task on another runner goes on in the
   * background and dies with that runner, and the task, handed over meanwhile, would run on, a second one beside the
   * new. Each is interrupted where it runs (`Interrupt` adopts it first if its shard just moved), tried again within
   * `leftOverWait`; after that the daemon starts all the same, with a warning.
   */
  const endLeftOver = (kindName: string, singleton: string): Effect.Effect<void> => {
    const page = (cursor: string | undefined): Effect.Effect<ReadonlyArray<string>, TaskError.TaskStoreError> =>
      Effect.flatMap(
        store.list({ kind: [kindName], status: ["pending", "running"], limit: 1000, ...(cursor === undefined ? {} : { cursor }) }),
        ({ items, nextCursor }) => {
          const ids = items.map((info) => info.id).filter((id) => isDaemonTask(singleton, id))
          return nextCursor === null ? Effect.succeed(ids) : Effect.map(page(nextCursor), (more) => [...ids, ...more])
        }
      )
    return page(undefined).pipe(
      Effect.flatMap((ids) => Effect.forEach(ids, (id) => interrupt(id).pipe(Effect.catchTag("TaskNotFound", () => Effect.void)), { concurrency: "unbounded", discard: true })),
      Effect.retry({ schedule: Schedule.exponential("100 millis").pipe(Schedule.upTo({ duration: leftOverWait })) }),
      Effect.catchCause((cause) =>
        Effect.logWarning(`chainjobs: daemon ${singleton} starts though a task of its earlier run may still run`, cause))
    )
  }

  /**
   * The cluster-wide name of a schedule or daemon: its kind and encoded payload. Every runner
   * declaring the same one declares one singleton, which runs on one runner at a time.
   */
  const singletonName = (what: "schedule" | "daemon", kind: Task.Any, payload: unknown) =>
    Effect.map(Task.encodePayload(kind, payload), (encoded) => singletonNameOf(what, kind.name, encoded))

  /** Registers `run` as a singleton until the returned effect (or the runner's end) withdraws this runner's declaration. */
  const singleton = (name: string, run: Effect.Effect<void, never, Scope.Scope>) =>
    Effect.gen(function*() {
      const declaration = yield* Scope.fork(runnerScope)
      yield* Effect.provideService(sharding.registerSingleton(name, Effect.scoped(run)), Scope.Scope, declaration)
      return Scope.close(declaration, Exit.void)
    })
  return tasks
})

/** Requirements of `make` besides the local supervisor. */
export type Requirements = TaskStore.TaskStore | Sharding.Sharding

/** The runner's `Tasks` as a layer over its own supervisor (`local`), its feed and its direct admission. */
export const layer = (
  local: Tasks.Tasks["Service"],
  feed: ClusterFeed,
  admission: LocalAdmission.LocalAdmission = LocalAdmission.none
): Layer.Layer<Tasks.Tasks, never, Requirements> => Layer.effect(Tasks.Tasks, make(local, feed, admission))
