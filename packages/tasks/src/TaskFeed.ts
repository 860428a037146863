/**
 * The fan-out of task changes to watchers: one subscription to the
 * supervisor's `events`, one sequence number and one encoded frame per
 * change, shared by every subscriber — `TaskAccess`'s `watch` and `events`,
 * which every transport serves (REST server-sent events, RPC `Watch`,
 * `WatchAll` and `WatchChanges`) — so a change costs the same whatever the number of
 * subscribers.
 *
 * Every subscriber's buffer is bounded, with a stated policy:
 * - a task's stream (`watch`) holds the latest `taskBuffer` records: a reader
 *   that falls behind loses the oldest, never the latest (a record is a
 *   snapshot of the whole task, so the newest one says everything), and the
 *   stream ends after the terminal record;
 * - the all-tasks stream (`all`) holds nothing of its own: every subscriber
 *   is a cursor into one ring of the last `replay` changes, reading what it
 *   has not read when its stream is pulled. A subscriber that falls more than
 *   `subscriberBuffer` changes behind is dropped: its stream fails with
 *   `SubscriberDropped`, naming the id of the last change it read.
 *   Subscribing again after that id (`after`: SSE's `Last-Event-ID`, RPC
 *   `WatchChanges`' `after`)
 *   replays what followed from the ring; an id the ring no longer holds (or
 *   another process's) starts the stream with a `Gap`, so the client knows to
 *   reload.
 *
 * A deleted record reaches the all-tasks stream as a change of its own
 * (`deleted`, server-sent as `event: deleted` with the record as it stood);
 * a task's streams end at it (nothing more of the task comes), and one
 * opened after it from a record read before it ends at once. A task is its
 * id and its `createdAt`: a record under the id created at another time is
 * another task's (the id deleted and used again), which a stream of the
 * first never follows. Nor does a task stream go back: a stream that began
 * from a record read ahead of the feed (the supervisor's own, the store's)
 * skips the task's earlier changes the feed takes after it (`RecordOrder`).
 *
 * Where a `TaskInterest` is provided (a cluster runner), the feed declares
 * what its subscribers follow — every task while an all-tasks stream is open,
 * a task while a stream of it is open — and the changes it hears may leave
 * out intermediate records nobody declared: a task stream then starts with a
 * read of the task (or its final record), not with the last change heard.
 *
 * Event ids are `<feed>-<sequence>`: the feed's random tag (one per process)
 * and a number that grows by one per change.
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Exit, Layer, Option, Pull, Queue, Schema, Scope, Stream } from "effect"
import { isReadonlyArrayNonEmpty as isNonEmptyArray, type NonEmptyReadonlyArray } from "effect/Array"
import type { TaskNotFound, TaskStoreError } from "./TaskError.ts"
import type { Deleted } from "./TaskEvent.ts"
import * as RecordOrder from "./RecordOrder.ts"
import * as TaskInfo from "./TaskInfo.ts"
import * as Settings from "./Settings.ts"
import { TaskInterest } from "./TaskInterest.ts"
import { Tasks } from "./Tasks.ts"

/** Settings of a feed. */
export interface TaskFeedConfig {
  /** Records a task stream may have waiting; past it the oldest is dropped (the latest wins). Default: 16. */
  readonly taskBuffer: number
  /** Changes an all-tasks subscriber may fall behind before it is dropped (keep it well under `replay`, so it can resume). Default: 1024. */
  readonly subscriberBuffer: number
  /** Changes kept for resuming by event id. Default: 8192. */
  readonly replay: number
}

/** The defaults of `TaskFeedConfig`. */
export const defaults: TaskFeedConfig = { taskBuffer: 16, subscriberBuffer: 1024, replay: 8192 }

const encodeInfo = Schema.encodeSync(Schema.toCodecJson(TaskInfo.TaskInfo))
const utf8 = new TextEncoder()

/** One change of a task as the feed carries it: the record and its event id, with its frame encoded on first use. */
export class Change {
  readonly _tag = "Change"
  /** The change's place in the feed's sequence. */
  readonly seq: number
  /** `<feed>-<seq>`: what a client resumes from. */
  readonly eventId: string
  readonly info: TaskInfo.TaskInfo
  /** The record was deleted: `info` is the record as it stood. */
  readonly deleted: boolean
  #sse: string | undefined
  constructor(seq: number, eventId: string, info: TaskInfo.TaskInfo, deleted = false) {
    this.seq = seq
    this.eventId = eventId
    this.info = info
    this.deleted = deleted
  }
  /**
   * The change as one server-sent event (`id`, `event: message`, or `event: deleted` for a deletion, `data`): made
   * once, written to every stream; its data is the record's text the RPC watchers write too (`TaskInfo.jsonText`).
   */
  get sseText(): string {
    return this.#sse ??= `id: ${this.eventId}\nevent: ${this.deleted ? "deleted" : "message"}\ndata: ${
      TaskInfo.jsonText(this.info) ?? JSON.stringify(encodeInfo(this.info))
    }\n\n`
  }
  /**
   * `sseText` in UTF-8, encoded anew at each read and not kept. A change outlives several young-generation
   * collections in the feed's replay ring, so bytes kept on it (memory outside V8's heap, from the C heap) were
   * freed only by a full collection: under load tens of MB of them piled up between two, and the C heap kept
   * their high-water mark. Encoded per write they die young, and the text stays in V8's heap.
   */
  get sse(): Uint8Array {
    return utf8.encode(this.sseText)
  }
}

/** Starts a resumed all-tasks stream whose id could not be honoured: changes were missed, reload. */
export class Gap {
  readonly _tag = "Gap"
  /** `expired`: the ring no longer holds the id's successor; `unknown`: the id is not one of this feed's (another process, or garbled). */
  readonly reason: "expired" | "unknown"
  readonly after: string
  constructor(reason: "expired" | "unknown", after: string) {
    this.reason = reason
    this.after = after
  }
}

/** An all-tasks subscriber fell `limit` changes behind and was dropped; resume after `lastEventId`. */
export class SubscriberDropped extends Schema.TaggedError<SubscriberDropped>("@chainjobs/tasks/SubscriberDropped")(
  "SubscriberDropped",
  {
    reason: Schema.Literal("slow-consumer"),
    /** The subscriber's buffer, in changes. */
    limit: Schema.Number,
    /** The id of the last change the stream delivered (empty if none): resume after it. */
    lastEventId: Schema.String
  }
) {
  override get message(): string {
    return `dropped: ${this.limit} changes were waiting for this subscriber; resume after "${this.lastEventId}"`
  }
}

/** Subscribers per stream kind, as `/metrics` reports them. */
export interface FeedStats {
  /** Open task streams (`watch`). */
  readonly task: number
  /** Open all-tasks streams (`all`). */
  readonly all: number
  /** All-tasks subscribers dropped so far for falling behind. */
  readonly dropped: number
  /** The event id of the last change. */
  readonly lastEventId: string
}

/** Options of an all-tasks subscription. */
export interface AllOptions {
  /** Only changes of records this accepts are delivered (the lag that drops a subscriber counts every change). */
  readonly visible: (info: TaskInfo.TaskInfo) => boolean
  /** Resume after this event id: replays what followed, or starts with a `Gap`. */
  readonly after?: string | undefined
}

/**
 * What `TaskFeed.listen` calls: `change` with each of a task's changes as it is
 * published, then `end` once — after the terminal record, or when the feed
 * closes.
 */
export interface TaskListener {
  readonly change: (change: Change) => void
  readonly end: () => void
}

/** The task-change hub. */
export class TaskFeed extends Context.Service<TaskFeed, {
  /** A task's latest record now, then at every change (the latest wins over a slow reader), ending after its terminal record or at its deletion. `known` skips a read when the caller has just read it. */
  watch(id: string, known?: TaskInfo.TaskInfo): Stream.Stream<Change, TaskNotFound | TaskStoreError>
  /**
   * `watch` without a stream, for a transport that writes each change itself
   * and applies the latest-wins policy at its own buffer: the listener gets
   * the latest record before this succeeds, then every change, then `end`.
   * Succeeds with the function that stops listening (a no-op once ended).
   */
  listen(id: string, listener: TaskListener, known?: TaskInfo.TaskInfo): Effect.Effect<() => void, TaskNotFound | TaskStoreError>
  /**
   * `listen` done at once, in the caller's own callback, when it needs
   * nothing asynchronous — no interest to declare (a cluster runner's feed
   * declares it), and a record heard or `known` to start with: its stop
   * function. `undefined` when it would have to wait, and nothing is listened
   * to then (use `listen`).
   */
  listenNow(id: string, listener: TaskListener, known?: TaskInfo.TaskInfo): (() => void) | undefined
  /**
   * The final record of task `id` if it finished recently (its terminal
   * change is still in the ring, and it was not deleted since): a record
   * that no longer changes, read without the store.
   */
  final(id: string): TaskInfo.TaskInfo | undefined
  /** Every change the subscriber may see, from now on (or after `after`); dropped if it falls `subscriberBuffer` behind. */
  all(options: AllOptions): Stream.Stream<Change | Gap, SubscriberDropped>
  /**
   * `all` subscribed now, in the current scope, which holds the subscriber until it closes: the stream returned,
   * run within that scope, hears every change published from here on (`all` subscribes only when first pulled).
   */
  subscribeAll(options: AllOptions): Effect.Effect<Stream.Stream<Change | Gap, SubscriberDropped>, never, Scope.Scope>
  /** Subscriber counts. */
  readonly stats: Effect.Effect<FeedStats>
}>()("@chainjobs/tasks/TaskFeed") {}

interface TaskSubscriber {
  readonly id: string
  readonly listener: TaskListener
  delivered: boolean
  ended: boolean
  /**
   * When the task it follows was created (its first record's `createdAt`): a record of the id created at another
   * time is another task's, the id deleted and used again (`deliverTask`).
   */
  createdAt: number | undefined
  /**
   * Where the last record delivered stands in its task's order (`RecordOrder`): a record read ahead of the changes
   * the feed has taken (the one a stream starts from) can be later than a change still on its way to the feed.
   */
  rank: RecordOrder.Rank | undefined
}

/**
 * An all-tasks subscriber is a cursor into the ring: it holds no changes of
 * its own, and reads what it has not yet read when its stream is pulled.
 */
interface AllSubscriber {
  readonly visible: (info: TaskInfo.TaskInfo) => boolean
  /** The last change read (delivered, or skipped as not visible). */
  cursor: number
  /** The last change published when it subscribed: lag before it is not held against it (a resume catching up). */
  readonly since: number
  /** Why its stream fails at the next pull, once it is dropped. */
  dropped: SubscriberDropped | undefined
  /** A gap to report first, on a resume that could not be honoured. */
  gap: Gap | undefined
  /** Resumes its stream's pull waiting for a change, if it waits. */
  wake: (() => void) | undefined
}

/** Changes handed to an all-tasks stream per pull, at most. */
const batchSize = 256

/**
 * Changes published (and fanned out to task streams' listeners) per turn of
 * the event loop, at most: a burst — hundreds of tasks finishing together —
 * is published a slice at a time, the feed yielding between slices, so that
 * the loop accepts connections and reads sockets in between instead of
 * after the whole burst.
 */
export const publishSlice = 256

/**
 * Deliveries to task streams' listeners (a change times the listeners of
 * its task) per turn of the event loop, at most, beside `publishSlice`: a
 * listener writes to its socket in the publishing turn (the lean reads'
 * event streams), and in the full load mix a slice of 256 changes reached
 * 1,000 and more of them, turns of tens of milliseconds in which no new
 * connection was accepted. The feed yields once a slice's changes have
 * reached this many; a change is never split, so one with more listeners
 * than this is delivered whole in a turn of its own.
 */
export const deliverySlice = 128

/** Makes a feed over the current supervisor, following its events for as long as the scope lasts. */
export const make = Effect.fnUntraced(function*(options: Settings.Given<TaskFeedConfig> = {}) {
  const config = Settings.withDefaults(defaults, options)
  const tasks = yield* Tasks
  const interest = Option.getOrUndefined(yield* Effect.serviceOption(TaskInterest))
  const tag = Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, "0")
  let seq = 0
  const ring: Array<Change | undefined> = new Array(config.replay)
  /** The latest change of every unfinished task seen: what a new task stream starts with. */
  const latest = new Map<string, Change>()
  /**
   * The terminal changes still in the ring, by task: a stream opened on a task that has just finished ends at
   * once with its final record, even when the record its caller read before opening it was an older one.
   */
  const finals = new Map<string, Change>()
  /**
   * The deletions still in the ring, by task: a stream opened after one, from a record of the deleted task read
   * before it, ends at once (its deletion, which ends the streams open then, has passed).
   */
  const deletions = new Map<string, Change>()
  const byTask = new Map<string, Set<TaskSubscriber>>()
  const everyone = new Set<AllSubscriber>()
  let dropped = 0

  const eventId = (n: number) => `${tag}-${n}`

  /** Forgets a task stream's subscriber: it gets nothing more. */
  const forget = (subscriber: TaskSubscriber) => {
    subscriber.ended = true
    const watchers = byTask.get(subscriber.id)
    if (watchers === undefined) return
    watchers.delete(subscriber)
    if (watchers.size === 0) byTask.delete(subscriber.id)
  }

  /** Ends a task stream (its terminal record delivered, or the feed closed), once. */
  const endTask = (subscriber: TaskSubscriber) => {
    if (subscriber.ended) return
    forget(subscriber)
    subscriber.listener.end()
  }

  /**
   * Delivers `change` to a task stream, which ends after a terminal record. A record of another task under the id
   * is not its task's: one created before it is the deleted task's, heard late (skipped); one created after it
   * means its task was deleted (it ends). A record earlier than one delivered (`RecordOrder`) is skipped: the stream
   * never goes back.
   */
  const deliverTask = (subscriber: TaskSubscriber, change: Change) => {
    if (subscriber.ended) return
    const createdAt = change.info.createdAt
    if (subscriber.createdAt === undefined) subscriber.createdAt = createdAt
    else if (createdAt !== subscriber.createdAt) {
      if (createdAt > subscriber.createdAt) endTask(subscriber)
      return
    }
    const rank = RecordOrder.rankOf(change.info)
    if (subscriber.rank !== undefined && RecordOrder.compareRanks(rank, subscriber.rank) < 0) return
    subscriber.rank = rank
    subscriber.delivered = true
    subscriber.listener.change(change)
    if (TaskInfo.isTerminal(change.info.status)) endTask(subscriber)
  }

  /** Drops every all-tasks subscriber that fell more than its buffer behind, and wakes the others. */
  const settle = () => {
    for (const subscriber of everyone) {
      const lag = seq - Math.max(subscriber.cursor, subscriber.since)
      if (lag > config.subscriberBuffer || seq - subscriber.cursor >= config.replay) {
        everyone.delete(subscriber)
        dropped++
        subscriber.dropped = new SubscriberDropped({
          reason: "slow-consumer",
          limit: config.subscriberBuffer,
          lastEventId: eventId(subscriber.cursor)
        })
      }
      const wake = subscriber.wake
      subscriber.wake = undefined
      wake?.()
    }
  }

  /** Changes published, and deliveries made to task streams' listeners, since the feed last yielded. */
  let sinceYield = 0
  let deliveredSinceYield = 0
  /**
   * Publishes `items` from `from` on until the slice is full (`publishSlice` changes or `deliverySlice`
   * deliveries since the feed last yielded); the index of the first change left. A change reaches its task's
   * listeners only if it is its task's last in `items` when `lastOfTask` is given (`latestChanges`): the latest wins.
   */
  const publish = (
    items: ReadonlyArray<TaskInfo.TaskInfo | Deleted>,
    from: number,
    lastOfTask: ReadonlySet<number> | undefined
  ): number => {
    let index = from
    while (index < items.length && sinceYield < publishSlice && deliveredSinceYield < deliverySlice) {
      const item = items[index++]
      sinceYield++
      seq++
      const deleted = "_tag" in item
      const info = deleted ? item.info : item
      const change = new Change(seq, eventId(seq), info, deleted)
      const evicted = ring[seq % config.replay]
      if (evicted !== undefined && finals.get(evicted.info.id) === evicted) finals.delete(evicted.info.id)
      if (evicted !== undefined && deletions.get(evicted.info.id) === evicted) deletions.delete(evicted.info.id)
      ring[seq % config.replay] = change
      if (deleted) {
        latest.delete(info.id)
        finals.delete(info.id)
        deletions.set(info.id, change)
        // Its streams end: nothing more of the task comes — its terminal record may not have (a deletion heard on a
        // cluster runner before the interruption's record, which is then no news), and a record under the id after
        // this is another task's, submitted again under a (caller-chosen) id.
        const watchers = byTask.get(info.id)
        if (watchers === undefined) continue
        deliveredSinceYield += watchers.size
        // (not a stream of a task created at another time under the id: one begun from a record read after this)
        for (const subscriber of watchers) {
          if (subscriber.createdAt === undefined || subscriber.createdAt === info.createdAt) endTask(subscriber)
        }
        continue
      }
      if (TaskInfo.isTerminal(info.status)) {
        latest.delete(info.id)
        finals.set(info.id, change)
      } else latest.set(info.id, change)
      const watchers = byTask.get(info.id)
      if (watchers === undefined || (lastOfTask !== undefined && !lastOfTask.has(index - 1))) continue
      deliveredSinceYield += watchers.size
      for (const subscriber of watchers) deliverTask(subscriber, change)
    }
    settle()
    return index
  }
  /** Set once the supervisor's events have ended (it shut down): every stream ends, and new ones end at once. */
  let closed = false
  const close = () => {
    closed = true
    settle()
    for (const watchers of byTask.values()) for (const subscriber of watchers) endTask(subscriber)
  }
  // Subscribed here, before the feed is handed out: no change made after `make` returns is missed.
  const intake = yield* Stream.toPull(tasks.changesAndDeletions)
  /**
   * When delivering every record of `items` (a batch taken from the supervisor at once) to the task streams'
   * listeners would fill more than a `deliverySlice`, the indexes of each task's last record in it (a task's: the
   * records before a deletion of an id are the deleted task's, those after it another's submitted again under the
   * id; the deleted one's streams end at the deletion): those listeners then get only that record of the batch,
   * the earlier ones being superseded (a record is the whole task; the latest wins, as at a
   * slow reader's buffer). Such a batch is the feed behind: each delivery is a write to a socket, and delivering
   * every record of it put the feed further behind, and every subscriber's lag with it (3,000 streams on 30 tasks:
   * the feed published ~70 changes a second of ~650 made). A batch within a slice is delivered whole, as every
   * change goes to the ring, the all-tasks streams.
   */
  const latestChanges = (items: ReadonlyArray<TaskInfo.TaskInfo | Deleted>): ReadonlySet<number> | undefined => {
    if (byTask.size === 0) return undefined
    let deliveries = 0
    for (const item of items) if (!("_tag" in item)) deliveries += byTask.get(item.id)?.size ?? 0
    if (deliveries <= deliverySlice) return undefined
    // From the end: the first record of an id met is its task's last; back past a deletion of the id, the records
    // met are the deleted task's, whose last is the one just before the deletion.
    const lastOfTask = new Set<number>()
    const met = new Set<string>()
    for (let index = items.length - 1; index >= 0; index--) {
      const item = items[index]
      if ("_tag" in item) met.delete(item.info.id)
      else if (!met.has(item.id)) {
        met.add(item.id)
        lastOfTask.add(index)
      }
    }
    return lastOfTask
  }
  /** Publishes `items` from `from` on, yielding to the event loop each time a slice is full (see `publish`). */
  const publishSliced = (
    items: ReadonlyArray<TaskInfo.TaskInfo | Deleted>,
    from: number,
    lastOfTask: ReadonlySet<number> | undefined
  ): Effect.Effect<void> =>
    Effect.suspend(() => {
      const next = publish(items, from, lastOfTask)
      if (sinceYield < publishSlice && deliveredSinceYield < deliverySlice) return Effect.void
      sinceYield = 0
      deliveredSinceYield = 0
      return next === items.length
        ? Effect.yieldNow
        : Effect.andThen(Effect.yieldNow, publishSliced(items, next, lastOfTask))
    })
  yield* Effect.forkScoped(
    Effect.forever(Effect.flatMap(intake, (items) => publishSliced(items, 0, latestChanges(items)))).pipe(
      Pull.catchDone(() => Effect.void),
      Effect.ensuring(Effect.sync(close))
    )
  )

  /** The sequence number to resume after, or why `after` cannot be resumed from. */
  const resumeFrom = (after: string): number | Gap => {
    const match = /^([0-9a-z]+)-(\d+)$/.exec(after)
    if (match === null || match[1] !== tag || Number(match[2]) > seq) return new Gap("unknown", after)
    const from = Number(match[2])
    return seq - from >= config.replay ? new Gap("expired", after) : from
  }

  /** The subscriber's next changes: those it has not read, or the first to come; a drop fails it, a closed feed ends it. */
  const pull = (subscriber: AllSubscriber): Effect.Effect<NonEmptyReadonlyArray<Change | Gap>, SubscriberDropped | Cause.Done> =>
    Effect.suspend(() => {
      if (subscriber.gap !== undefined) {
        const gap = subscriber.gap
        subscriber.gap = undefined
        return Effect.succeed([gap] as const)
      }
      if (subscriber.dropped !== undefined) return Effect.fail(subscriber.dropped)
      const batch: Array<Change> = []
      while (subscriber.cursor < seq && batch.length < batchSize) {
        const change = ring[++subscriber.cursor % config.replay]!
        if (subscriber.visible(change.info)) batch.push(change)
      }
      if (isNonEmptyArray(batch)) return Effect.succeed(batch)
      if (subscriber.cursor < seq) return pull(subscriber)
      if (closed) return Cause.done()
      return Effect.andThen(
        Effect.callback<void>((resume) => {
          // Woken inside the publish (`settle`), the subscriber's fiber resumes with a yield: it reads and writes its
          // changes in its scheduler's next turns, not in the publishing turn, which with many subscribers held the
          // event loop until the last had written (the service's scheduler runs a budget's worth per turn).
          subscriber.wake = () => resume(Effect.yieldNow)
          return Effect.sync(() => {
            subscriber.wake = undefined
          })
        }),
        pull(subscriber)
      )
    })

  /** A new listener of task `id`, registered: it hears every change published from now on. */
  const subscribe = (id: string, listener: TaskListener): TaskSubscriber => {
    const subscriber: TaskSubscriber = { id, listener, delivered: false, ended: false, createdAt: undefined, rank: undefined }
    let watchers = byTask.get(id)
    if (watchers === undefined) byTask.set(id, watchers = new Set())
    watchers.add(subscriber)
    return subscriber
  }

  /** What the feed has heard of task `id`, if anything it can start a listener with. */
  const heardOf = (id: string): Change | undefined =>
    // With interest declared, what was heard of an unfollowed task may be behind it: only its end is trusted.
    (interest === undefined ? latest.get(id) : undefined) ?? finals.get(id)

  /**
   * Starts a new listener of task `id` with what the feed has heard of it, or `known` (a record its caller has just
   * read); false when it has neither, and the task must be read. `known` of a task the feed has heard deleted, or
   * under an id the feed holds a later task of, ends it at once: nothing more of that task comes.
   */
  const begin = (subscriber: TaskSubscriber, id: string, known: TaskInfo.TaskInfo | undefined): boolean => {
    const heard = heardOf(id)
    if (known === undefined) {
      if (heard === undefined) return false
      deliverTask(subscriber, heard)
      return true
    }
    if (heard === undefined || heard.info.createdAt !== known.createdAt) deliverTask(subscriber, new Change(seq, eventId(seq), known))
    // the same task's: the latest wins; a later task's ends the stream, an earlier one's (not yet deleted here) is skipped
    if (heard !== undefined) deliverTask(subscriber, heard)
    if (deletions.get(id)?.info.createdAt === known.createdAt) endTask(subscriber)
    return true
  }

  const listen = (id: string, listener: TaskListener, known?: TaskInfo.TaskInfo) =>
    Effect.suspend(() => {
      // Registered before the first record is read, so no change falls in between.
      const subscriber = subscribe(id, listener)
      // The interest declared for it (a cluster runner's) lasts until it stops listening.
      const declared = interest === undefined ? undefined : Scope.makeUnsafe()
      const stop = () => {
        forget(subscriber)
        if (declared !== undefined) Effect.runFork(Scope.close(declared, Exit.void))
      }
      const start = Effect.suspend(() => {
        if (begin(subscriber, id, known)) return Effect.void
        return Effect.map(tasks.get(id), (info) => {
          if (!subscriber.delivered) deliverTask(subscriber, new Change(seq, eventId(seq), info))
        })
      })
      const started = () => {
        if (closed) endTask(subscriber)
        return stop
      }
      return (declared === undefined ? start : Effect.andThen(Scope.provide(interest!.task(id), declared), start)).pipe(
        Effect.map(started),
        Effect.onExit((exit) => exit._tag === "Success" ? Effect.void : Effect.sync(stop))
      )
    })

  const listenNow = (id: string, listener: TaskListener, known?: TaskInfo.TaskInfo): (() => void) | undefined => {
    if (interest !== undefined || (known === undefined && heardOf(id) === undefined)) return undefined
    const subscriber = subscribe(id, listener)
    begin(subscriber, id, known)
    if (closed) endTask(subscriber)
    return () => forget(subscriber)
  }

  const watch = (id: string, known?: TaskInfo.TaskInfo) =>
    Stream.callback<Change, TaskNotFound | TaskStoreError>(
      (queue) =>
        Effect.flatMap(
          listen(id, { change: (change) => Queue.offerUnsafe(queue, change), end: () => Queue.endUnsafe(queue) }, known),
          (stop) => Effect.addFinalizer(() => Effect.sync(stop))
        ),
      { bufferSize: config.taskBuffer, strategy: "sliding" }
    )

  const subscribeAll = (options: AllOptions): Effect.Effect<Stream.Stream<Change | Gap, SubscriberDropped>, never, Scope.Scope> =>
    Effect.map(
      Effect.acquireRelease(
        Effect.andThen(interest?.all ?? Effect.void, Effect.sync(() => {
          const from = options.after === undefined ? seq : resumeFrom(options.after)
          const subscriber: AllSubscriber = {
            visible: options.visible,
            cursor: typeof from === "number" ? from : seq,
            since: seq,
            dropped: undefined,
            gap: typeof from === "number" ? undefined : from,
            wake: undefined
          }
          if (!closed) everyone.add(subscriber)
          return subscriber
        })),
        (subscriber) => Effect.sync(() => everyone.delete(subscriber))
      ),
      (subscriber) => Stream.fromPull(Effect.succeed(pull(subscriber)))
    )
  const all = (options: AllOptions): Stream.Stream<Change | Gap, SubscriberDropped> => Stream.unwrap(subscribeAll(options))

  const stats = Effect.sync((): FeedStats => {
    let task = 0
    for (const watchers of byTask.values()) task += watchers.size
    return { task, all: everyone.size, dropped, lastEventId: eventId(seq) }
  })

  return TaskFeed.of({ watch, listen, listenNow, final: (id) => finals.get(id)?.info, all, subscribeAll, stats })
})

/** A feed over the supervisor, with the given settings over the defaults (one omitted or `undefined` keeps its default). */
export const layer = (options: Settings.Given<TaskFeedConfig> = {}): Layer.Layer<TaskFeed, never, Tasks> =>
  Layer.effect(TaskFeed, make(options))

/** The provided feed, else a new one for the current scope (an embedding that provides none). */
export const current: Effect.Effect<TaskFeed["Service"], never, Tasks | Scope.Scope> = Effect.flatMap(
  Effect.serviceOption(TaskFeed),
  Option.match({ onNone: () => make(), onSome: Effect.succeed })
)
