/**
 * The access rules over the supervisor, the same for every transport: a
 * principal-scoped facade of `Tasks`. Every operation acts for the
 * `CurrentPrincipal` its transport authenticated (see `Principal`):
 *
 * - **Ownership.** A principal reads, awaits, follows, interrupts and deletes
 *   only the tasks it submitted, and lists and follows only those; an admin
 *   does all of it for every task and alone may purge. Another principal's
 *   task is answered exactly as a missing one (`TaskNotFound`), so a caller
 *   cannot learn which ids exist; a refused submission never names another
 *   principal's task.
 * - **Quota.** Submissions draw on one token bucket per principal
 *   (`submitLimit` per `submitWindow`, bursts of `submitBurst`, see `Quota`), whichever transport
 *   carries them. A submission refused as invalid (unknown kind, payload not
 *   matching its kind) gives its token back.
 * - **Payload limit.** A payload larger or deeper than `payloadLimit` is
 *   refused before it is decoded (see `PayloadLimit`).
 * - **Event streams.** A principal holds at most `maxEventStreams` all-tasks
 *   streams (`changes`, `events`: `/api/events`, RPC `WatchAll` and
 *   `WatchChanges`) open at once, each a subscriber every change visits; the
 *   one past it is refused (`TooManyEventStreams`) and the others flow on. A
 *   stream holds its slot while it runs and frees it as it ends, however it
 *   ends (its reader gone, dropped, interrupted). Task streams (`watch`) are
 *   not counted: each is visited only by its own task's changes.
 * - **Webhook.** A submission naming a `webhook` has it checked first
 *   (`SubmitWebhooks`: `WebhookRefused`, nothing submitted). For a kind
 *   without an exclusive key it is registered before the task, under the id
 *   chosen for it, so no task starts without its webhook: a registration
 *   that fails leaves no task, and a submission that fails after it gives
 *   the webhook up. A keyed kind's submission may join another task, so its
 *   webhook is registered once the task is recorded (the one joined), and a
 *   task it recorded is interrupted if that registration fails.
 *
 * Every refusal is a `TaskAccessError` (reasons `Unauthenticated`,
 * `Forbidden`, `QuotaExceeded`, `TooManyEventStreams`, `TooManyTaskStreams`,
 * `PayloadTooLarge`, `PayloadTooDeep`) raised before anything is recorded.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, Metric, Result, Schema, type Scope, Stream } from "effect"
import { canSee, CurrentPrincipal, type Principal } from "./Principal.ts"
import * as PayloadLimit from "./PayloadLimit.ts"
import * as Quota from "./Quota.ts"
import * as Settings from "./Settings.ts"
import * as StreamSlots from "./StreamSlots.ts"
import {
  Forbidden,
  QuotaExceeded,
  refuse,
  type TaskAccessError,
  TooManyEventStreams,
  TooManyTaskStreams
} from "./TaskAccessError.ts"
import { InvalidPayload, SubmitRejected, TaskNotFound, type TaskStoreError, type UnknownTaskKind } from "./TaskError.ts"
import * as TaskFeed from "./TaskFeed.ts"
import { isTerminal, makeId, type TaskInfo } from "./TaskInfo.ts"
import type { Deleted } from "./TaskEvent.ts"
import type { TaskStats } from "./TaskStats.ts"
import type { OnConflict } from "./TaskPolicy.ts"
import type { PurgeFilter, TaskCounts, TaskPage, TaskQuery } from "./TaskQuery.ts"
import { SubmitWebhooks, type WebhookRefused } from "./SubmitWebhooks.ts"
import { Tasks } from "./Tasks.ts"

/** Settings of the access rules. */
export interface TaskAccessConfig {
  /** Submissions a principal may make per `submitWindow` (a token bucket of this size). Default: 1000. */
  readonly submitLimit: number
  /** The time in which a principal's `submitLimit` tokens refill. Default: 1 second. */
  readonly submitWindow: Duration.Input
  /**
   * The most submissions a principal may make at once (its bucket's size): a
   * client keeping to the rate on average is refused only after its requests
   * bunched up beyond this, e.g. behind a stall longer than `submitBurst -
   * submitLimit` tokens' worth of time. At least `submitLimit`. Default: twice `submitLimit`.
   */
  readonly submitBurst: number | undefined
  /** The largest and deepest payload accepted, on every transport. Default: 64 KiB, 32 levels. */
  readonly payloadLimit: PayloadLimit.PayloadLimit
  /**
   * The most all-tasks event streams (`changes`, `events`) one principal may hold open at once, on every transport
   * together; a whole number of at least 1. Default: 1000.
   */
  readonly maxEventStreams: number
  /**
   * The most single-task streams (`watch`, `watchChanges`) one principal may hold open at once, on every transport
   * together; a whole number of at least 1. Default: 4096.
   */
  readonly maxTaskStreams: number
}

/** The defaults of `TaskAccessConfig`. */
export const defaults: TaskAccessConfig = {
  submitLimit: 1000,
  submitWindow: "1 second",
  submitBurst: undefined,
  payloadLimit: PayloadLimit.defaults,
  maxEventStreams: 1000,
  maxTaskStreams: 4096
}

/** A submission: a kind's name, the payload encoded with its Schema, and submission options. */
export const SubmitRequest = Schema.Struct({
  kind: Schema.String,
  /** The task payload, encoded with the kind's payload Schema. */
  payload: Schema.Unknown,
  /** Overrides the kind's priority: higher runs first. */
  priority: Schema.optionalKey(Schema.Finite),
  /** Overrides the kind's choice when another task holds the exclusive key. */
  onConflict: Schema.optionalKey(Schema.Literals(["reject", "join", "queue"])),
  /** Overrides the kind's time limit of one attempt, in milliseconds (the supervisor refuses one that is not a positive whole number). */
  timeoutMillis: Schema.optionalKey(Schema.Number),
  /** Overrides the kind's heartbeat timeout, in milliseconds (likewise). */
  heartbeatTimeoutMillis: Schema.optionalKey(Schema.Number),
  /** At most this many retries of a failed attempt (likewise: a whole number from 0 to 1000). */
  retries: Schema.optionalKey(Schema.Number),
  /** A URL the task's final record is POSTed to, signed, once it finishes (see `SubmitWebhooks`). */
  webhook: Schema.optionalKey(Schema.String)
})
/** @see SubmitRequest */
export type SubmitRequest = typeof SubmitRequest.Type


/** Errors of a submission: the access rules', and the supervisor's. */
export type SubmitError =
  | TaskAccessError
  | InvalidPayload
  | SubmitRejected
  | UnknownTaskKind
  | TaskStoreError
  | TaskNotFound
  | WebhookRefused

/** Errors of reading or controlling one task: a foreign task is not found, like a missing one. */
export type TaskError = TaskNotFound | TaskStoreError

/** Errors of following one task: a read's, or the principal holding `maxTaskStreams` task streams open. */
export type WatchError = TaskError | TaskAccessError

/** Submissions refused for exceeding the quota, by principal. */
export const quotaExceeded = Metric.counter("chainjobs_submissions_rate_limited_total", {
  description: "Submissions refused because the principal exceeded its quota",
  incremental: true
})

/** The supervisor as the current principal may use it. */
export class TaskAccess extends Context.Service<TaskAccess, {
  /** The settings in force (transports read `payloadLimit` to refuse oversized requests at the door). */
  readonly config: TaskAccessConfig
  /** Submits a task owned by the caller; returns its id (the joined task's with `onConflict: "join"`). */
  submit(request: SubmitRequest): Effect.Effect<{ readonly id: string }, SubmitError, CurrentPrincipal>
  /** A task's current record. */
  get(id: string): Effect.Effect<TaskInfo, TaskError, CurrentPrincipal>
  /** Waits until a task has finished and returns its final record. */
  awaitInfo(id: string): Effect.Effect<TaskInfo, TaskError, CurrentPrincipal>
  /**
   * A task's record at once, then at every change (a slow reader skips to the latest); ends after a terminal status.
   * Refused with `TooManyTaskStreams` when it would be more than `maxTaskStreams` of the principal's open at once.
   */
  watch(id: string): Stream.Stream<TaskInfo, WatchError, CurrentPrincipal>
  /** `watch` as the feed's changes, each with its encoded frame. */
  watchChanges(id: string): Stream.Stream<TaskFeed.Change, WatchError, CurrentPrincipal>
  /**
   * `watchChanges` admitted now, in the current scope, which holds its slot until it closes: for a transport that
   * answers a refusal before it starts the stream (REST's 429). The stream returned must be run within that scope.
   */
  openWatchChanges(id: string): Effect.Effect<
    Stream.Stream<TaskFeed.Change, TaskError>,
    WatchError,
    CurrentPrincipal | Scope.Scope
  >
  /**
   * Each principal's open task streams, by principal id, under `maxTaskStreams`: a transport that writes a task's
   * stream straight on its socket, with no scope, takes its slot here (`enter`, `leave`) as `watch` takes its own.
   */
  readonly taskStreams: StreamSlots.StreamSlots<string, TaskAccessError>
  /** Lists records, newest first: the caller's own, or (admins) any owner's. */
  list(query: TaskQuery): Effect.Effect<TaskPage, TaskStoreError | TaskAccessError, CurrentPrincipal>
  /** Counts the records a query matches, by status, among those `list` would show the caller. */
  count(query: TaskQuery): Effect.Effect<TaskCounts, TaskStoreError | TaskAccessError, CurrentPrincipal>
  /** Interrupts a task and waits until it has stopped. */
  interrupt(id: string): Effect.Effect<void, TaskError, CurrentPrincipal>
  /** Deletes a task's record, interrupting it first if it has not finished. */
  delete(id: string): Effect.Effect<void, TaskError, CurrentPrincipal>
  /** Deletes finished records by age and status (admins only); returns how many. */
  purge(filter: PurgeFilter): Effect.Effect<number, TaskStoreError | TaskAccessError, CurrentPrincipal>
  /**
   * Every change of every task the caller may see, from now on, and a `Deleted` event for each of them deleted; a
   * reader that falls too far behind is dropped. Refused with `TooManyEventStreams` when it would be more than
   * `maxEventStreams` of the principal's open at once.
   */
  readonly events: Stream.Stream<TaskInfo | Deleted, TaskFeed.SubscriberDropped | TaskAccessError, CurrentPrincipal>
  /** `events` as the feed's changes, each with its event id and encoded frame, resuming after `after` if given. */
  changes(after?: string): Stream.Stream<TaskFeed.Change | TaskFeed.Gap, TaskFeed.SubscriberDropped | TaskAccessError, CurrentPrincipal>
  /**
   * `changes` admitted and subscribed now, in the current scope, which holds its slot until it closes: for a
   * transport that answers a refusal before it starts the stream (REST's 429), and hears every change after this.
   * The stream returned must be run within that scope.
   */
  openChanges(after?: string): Effect.Effect<
    Stream.Stream<TaskFeed.Change | TaskFeed.Gap, TaskFeed.SubscriberDropped>,
    TaskAccessError,
    CurrentPrincipal | Scope.Scope
  >
  /** What the supervisor holds right now. */
  readonly stats: Effect.Effect<TaskStats>
}>()("@chainjobs/tasks/TaskAccess") {}

/** The answer for a task the caller may not see: the one a missing task gets. */
const notFound = (id: string) => new TaskNotFound({ id })

/**
 * The access rules over the `Tasks` of the context, with the given settings over the defaults (one omitted or
 * `undefined` keeps its default); fails with `InvalidSlotLimit` when `maxEventStreams` or `maxTaskStreams` is not a
 * whole number of at least 1.
 */
export const make = Effect.fnUntraced(function*(options: Settings.Given<TaskAccessConfig> = {}) {
  const config = Settings.withDefaults(defaults, options)
  const tasks = yield* Tasks
  const feed = yield* TaskFeed.current
  const webhooks = yield* SubmitWebhooks
  /** Each principal's open all-tasks streams, by principal id. */
  const streamSlots = yield* StreamSlots.make({
    setting: "maxEventStreams",
    name: "event-streams-per-principal",
    limit: config.maxEventStreams,
    refuse: (principal: string, open) => refuse(new TooManyEventStreams({ principal, limit: config.maxEventStreams, open }))
  })
  /** Each principal's open task streams, by principal id. */
  const taskStreams = yield* StreamSlots.make({
    setting: "maxTaskStreams",
    name: "task-streams-per-principal",
    limit: config.maxTaskStreams,
    refuse: (principal: string, open) => refuse(new TooManyTaskStreams({ principal, limit: config.maxTaskStreams, open }))
  })
  const quota = (yield* Quota.Maker)({
    limit: config.submitLimit,
    window: config.submitWindow,
    burst: config.submitBurst ?? 2 * config.submitLimit
  })

  /** The record of a task the caller may see; any other is not found. */
  const visible = (id: string) =>
    CurrentPrincipal.use((principal) =>
      Effect.flatMap(tasks.get(id), (info) => canSee(principal, info) ? Effect.succeed(info) : Effect.fail(notFound(id))))

  /** Takes a submission token of the principal, or refuses with how long to wait. */
  const takeToken = (principal: Principal) =>
    Effect.flatMap(quota.take(principal.id), (taken) =>
      taken._tag === "Granted" ? Effect.void : Metric.update(Metric.withAttributes(quotaExceeded, { principal: principal.id }), 1).pipe(
        Effect.andThen(Effect.fail(refuse(
          new QuotaExceeded({
            principal: principal.id,
            limit: quota.rate.limit,
            windowMillis: quota.rate.windowMillis,
            retryAfterMillis: taken.retryAfterMillis
          })
        )))
      ))

  /** A key conflict, told without naming a holder the caller may not see. */
  const hideHolder = (principal: Principal, rejected: SubmitRejected) =>
    rejected.holder === undefined
      ? Effect.fail(rejected)
      : tasks.get(rejected.holder).pipe(
        Effect.map((holder) => canSee(principal, holder)),
        Effect.orElseSucceed(() => false),
        Effect.flatMap((visibleHolder) => Effect.fail(visibleHolder ? rejected : keyBusyElsewhere(rejected.kind)))
      )

  const submit = Effect.fnUntraced(function*(request: SubmitRequest) {
    const principal = yield* CurrentPrincipal
    yield* PayloadLimit.check(config.payloadLimit, request.payload)
    const webhook = request.webhook === undefined ? undefined : yield* webhooks.check(request.webhook)
    yield* takeToken(principal)
    // Only a kind with an exclusive key can join a task, which may be another principal's.
    const joins = yield* keyed(request.kind)
    // A task with a webhook gets its id here: the call then knows the task it records from one it joins.
    const chosen = webhook === undefined ? undefined : makeId(yield* Clock.currentTimeMillis)
    // A kind that joins nothing records this call's own task: its webhook is registered first, under the id the task
    // gets, so that a kind whose work has effects from its first moment never starts without it.
    const first = chosen !== undefined && !joins
    if (first) yield* webhooks.register(chosen, webhook!)
    const handle = yield* tasks.submitEncoded(request.kind, request.payload, {
      owner: principal.id,
      priority: request.priority,
      onConflict: request.onConflict as OnConflict | undefined,
      timeoutMillis: request.timeoutMillis,
      heartbeatTimeoutMillis: request.heartbeatTimeoutMillis,
      retries: request.retries,
      id: chosen
    }).pipe(
      Effect.catchTags({
        // An invalid submission does not use up the quota.
        InvalidPayload: (error) => Effect.andThen(quota.refund(principal.id), Effect.fail(error)),
        UnknownTaskKind: (error) => Effect.andThen(quota.refund(principal.id), Effect.fail(error)),
        SubmitRejected: (error) => hideHolder(principal, error)
      }),
      // No task is recorded under the chosen id: its webhook is given up (if that fails too, the webhook service
      // gives it up once it has waited a while for a task that never came).
      Effect.tapError(() => first ? Effect.ignore(webhooks.abandon(chosen)) : Effect.void)
    )
    if (first) return { id: chosen }
    const id = joins ? yield* visibleHolder(principal, request.kind, handle.info) : handle.id
    if (webhook !== undefined) {
      yield* webhooks.register(id, webhook).pipe(
        // The caller is told the submission failed and submits again: the task this call recorded does not run on
        // beside the next. A task joined runs on; a submission again joins it, so it does not run twice.
        Effect.tapError(() => id === chosen ? Effect.ignore(tasks.interrupt(id)) : Effect.void)
      )
    }
    return { id }
  })

  /** The id of the task a keyed submission recorded or joined, if the caller may see it. */
  const visibleHolder = (principal: Principal, kind: string, read: Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError>) =>
    Effect.flatMap(read, (info) => canSee(principal, info) ? Effect.succeed(info.id) : Effect.fail(keyBusyElsewhere(kind)))

  const keyedKinds = new Map<string, boolean>()
  /** Whether the registered kind `name` has an exclusive key (read once per kind). */
  const keyed = (name: string) =>
    keyedKinds.has(name) ? Effect.succeed(keyedKinds.get(name)!) : Effect.map(tasks.kinds, (kinds) => {
      for (const kind of kinds) keyedKinds.set(kind.name, kind.policy.key !== undefined)
      return keyedKinds.get(name) ?? true
    })

  // A task the caller may not see is not found before any slot is taken: the refusal names only the caller's count.
  const openWatchChanges = (id: string) =>
    CurrentPrincipal.use((principal) =>
      Effect.flatMap(visible(id), (info) => Effect.as(taskStreams.take(principal.id), feed.watch(id, info))))
  // Run, the stream's own scope holds the slot: it is given back as the stream ends, however it ends.
  const watchChanges = (id: string) => Stream.unwrap(openWatchChanges(id))

  const openChanges = (after?: string) =>
    CurrentPrincipal.use((principal) =>
      Effect.andThen(
        streamSlots.take(principal.id),
        feed.subscribeAll({ visible: (info) => canSee(principal, info), after })
      ))
  // Run, the stream's own scope holds the slot and the subscription: both end with it.
  const changes = (after?: string) => Stream.unwrap(openChanges(after))

  /** The query as the caller may run it: an admin's as it is, anyone else's narrowed to their own tasks. */
  const listable = (query: TaskQuery) =>
    CurrentPrincipal.use((principal): Effect.Effect<TaskQuery, TaskAccessError> => {
      if (principal.admin) return Effect.succeed(query)
      if (query.owner !== undefined && query.owner !== principal.id) {
        return Effect.fail(refuse(new Forbidden({ principal: principal.id, operation: "list-others" })))
      }
      return Effect.succeed({ ...query, owner: principal.id })
    })

  /** The final record of a visible task: the one read if it has finished, else by waiting. */
  const settled = (info: TaskInfo) => isTerminal(info.status) ? Effect.succeed(info) : tasks.awaitInfo(info.id)

  return TaskAccess.of({
    config,
    submit,
    get: visible,
    awaitInfo: (id) => Effect.flatMap(visible(id), settled),
    watch: (id) => Stream.map(watchChanges(id), (change) => change.info),
    watchChanges,
    openWatchChanges,
    taskStreams,
    list: (query) => Effect.flatMap(listable(query), tasks.list),
    count: (query) => Effect.flatMap(listable(query), tasks.count),
    interrupt: (id) => Effect.andThen(visible(id), tasks.interrupt(id)),
    delete: (id) => Effect.andThen(visible(id), tasks.delete(id)),
    purge: (filter) =>
      CurrentPrincipal.use((principal): Effect.Effect<number, TaskStoreError | TaskAccessError> =>
        principal.admin
          ? tasks.purge(filter)
          : Effect.fail(refuse(new Forbidden({ principal: principal.id, operation: "purge" })))
      ),
    events: Stream.filterMap(changes(), (item): Result.Result<TaskInfo | Deleted, void> =>
      item._tag !== "Change" ? Result.failVoid : Result.succeed(item.deleted ? { _tag: "Deleted", info: item.info } : item.info)),
    changes,
    openChanges,
    stats: tasks.stats
  })
})

/** The refusal of a submission whose exclusive key another principal's task holds: it names no task. */
const keyBusyElsewhere = (kind: string) =>
  new SubmitRejected({ kind, reason: "key-busy" })

/** `TaskAccess` over the `Tasks` of the context (see `make`). */
export const layer = (options: Settings.Given<TaskAccessConfig> = {}): Layer.Layer<TaskAccess, StreamSlots.InvalidSlotLimit, Tasks> =>
  Layer.effect(TaskAccess, make(options))
