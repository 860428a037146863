/**
 * Every runner's task changes and counts, heard on every runner: what makes
 * `changes`, `changesAndDeletions`, `watch` and `stats` of a runner's `Tasks`
 * (and so `/api/events`, RPC `WatchAll` / `WatchChanges`, a task's watch and
 * the dashboard's counts) cluster-wide.
 *
 * Each runner sends its own supervisor's changes (and the deletions it makes)
 * to the others through PostgreSQL `NOTIFY` on one channel per schema, and
 * listens on that channel for theirs:
 *
 * - a sender fiber takes every change waiting since its last send, and those
 *   made in the next 10 ms (`linger`), and packs them into as few
 *   notifications as fit PostgreSQL's payload limit (one round trip carries
 *   many changes under load); a record too large for a
 *   notification is sent as its id and read from the store by the receiver;
 * - every notification carries its sender's session and a number one
 *   greater than the last (a send skipped because nobody listened counts one,
 *   as does one PostgreSQL refused), and the time it was sent: a receiver
 *   that finds a number missing has lost changes, and re-reads (below) what
 *   they may have said — the counts sent every second reveal a loss at the
 *   end of a burst within a second;
 * - the listener's connection is its own: if it breaks, or hears nothing for
 *   `deafAfterMillis` — not even this runner's own counts coming back — the
 *   runner listens again. After an outage or a loss it re-reads every task
 *   known to be unfinished elsewhere (heard of, read by this runner's service
 *   — a watch's first read — or found unfinished when it first listened),
 *   every unfinished record, and every record made since shortly before the
 *   last notification heard in order: a watch ends with its task's final
 *   record, and a task that began and ended wholly inside the outage is
 *   announced, whatever was lost;
 * - a runner that leaves may take changes with it that no gap shows: killed
 *   between a commit and its notification, or stopped with changes still
 *   waiting to be sent. When a runner says farewell, starts a new session
 *   (started again), or falls silent for `statsExpiryMillis` (its counts go
 *   every second), every wait for a final record that began without a read
 *   (`expect`) reads the record at once, and so does every task known
 *   unfinished on that runner (a watch's, an all-tasks stream's); a join of
 *   a task expected before then reads first. Tasks run here are not read
 *   (their final records come from this runner's own supervisor), and the
 *   reads go in a fiber of their own: notifications and counts do not wait
 *   for them. A runner not heard from for `peerExpiryMillis` is forgotten,
 *   but for its last number (`forgottenLimit` runners at most, for
 *   `forgottenMemoryMillis`): should it come back in the same session, a
 *   number missing since is a loss as above, and a task it began and ended
 *   wholly while unheard is read and announced; a repeat does not end its
 *   forgetting, and a listener's re-read after an outage covers it (it is
 *   then taken as new);
 * - notifications and reads cross (a read can be newer than a notification
 *   still on its way): each task's records are kept in their order
 *   (`RecordOrder`), an earlier one arriving after a later one is dropped,
 *   and a finished record is told once.
 *
 * Counts: each runner sends its supervisor's `stats` every second (and a
 * farewell when it stops); a runner's cluster-wide `stats` add its own to the
 * others' last, those older than three seconds left out (a dead runner).
 *
 * Interest: a task's records are sent only while some other runner wants
 * them. Its intermediate records (`pending`, `running`, progress,
 * heartbeats): while one of that runner's followers declared `TaskInterest`
 * in every task (an all-tasks stream) or in this one (a task's watch). Its
 * final record: then too, or while that runner waits for it — a task
 * submitted there and sent here (`expect`, until its join takes it) or a
 * join (`finalRecord`) of a task run elsewhere. A runner tells the others
 * what it wants (`w`: everything; or a list of tasks whose every record it
 * wants, and a list of tasks whose final record it waits for — every final
 * record when that list does not fit) when it comes to want more, and every
 * second while it wants anything or last told it did; a runner's wants not
 * renewed for `interestExpiryMillis` lapse. Deletions always go.
 *
 * A want can reach a task's runner after the task ended: a final record
 * nobody wanted is kept by its runner for a while (`unsentLimit` records in
 * each of two generations of `finishedMemoryMillis`), and sent when a runner
 * comes to want it (its task named; or every task — then those of tasks
 * that ended since shortly before that runner's previous wants, `sendWanted`). A task expected here is
 * wanted from before its submission is sent; a join of a task run elsewhere
 * declares its want once its first read finds the task unfinished: the task
 * ends after that read, so its runner still keeps the final record when the
 * want arrives and sends it then. Either way the final record comes at once
 * wherever the race falls; the read again every `finalRecheck` covers only
 * what a runner that left took away (a join that found its task running
 * here — or expected and run here, waiting unread — wants it once this
 * runner lets the task go unfinished: handed over as its shard moved).
 * Every gap, outage and re-read rule above holds for what is sent. Records nobody wanted are not sent and
 * take no number: they are not lost, as nobody was to hear them. A lone
 * runner keeps nothing for later.
 *
 * Local changes reach local followers at once, not through the database,
 * and are sent only while another runner was heard from in the last 30
 * seconds, or in a runner's first 5 seconds: a lone runner (a cluster of one)
 * spends nothing on them. A runner announces itself (its counts) as soon as
 * it listens, before its service binds, and every other runner answers with
 * its own at once: each sends to the other from then on.
 *
 * @since 0.1.0
 */
import { type Cause, Clock, Deferred, type Duration, Effect, Exit, Option, Queue, Schedule, Schema, Semaphore, Stream } from "effect"
import { PgClient } from "@effect/sql-pg"
import { RecordOrder, type TaskEvent, TaskInfo, TaskInterest, type Tasks, type TaskStats, TaskStore } from "@chainjobs/tasks"
import { hash } from "./TaskEntity.ts"

/** PostgreSQL refuses a notification payload of 8000 bytes or more; a message stays under this. */
export const payloadLimit = 7900

/** How long a change waits for others to share its notification: what a follower on another runner waits more. */
export const linger = "10 millis"

/** How often a runner sends its counts. */
export const statsInterval = "1 second"

/** A runner's counts older than this are left out of the cluster's (the runner is gone). */
export const statsExpiryMillis = 3000

/**
 * Changes are sent while another runner was heard from within this time. Longer than the counts' expiry: a
 * runner whose counts are late under load still hears every change.
 */
export const peerExpiryMillis = 30_000

/**
 * A listener that has heard nothing for this long, while this runner's own counts (sent every second, heard back
 * by its own listener) went out, is taken for broken: it listens again and re-reads.
 */
export const deafAfterMillis = 10_000

/**
 * The re-read after a loss takes the records made since this long before the last notification heard in order:
 * a record is made a little before its first notification is sent (its insert, then the send's `linger`), and
 * runners' clocks may differ by a little.
 */
export const resyncMarginMillis = 5_000

/**
 * How many runners forgotten for their silence (`peerExpiryMillis`) keep their last number heard, the longest
 * forgotten dropped first: one that comes back in the same session (a partition of the network ended) is checked for
 * a gap as if never forgotten, so a task it began and ended while unheard is re-read. Each costs a few dozen bytes; a
 * runner that died without a farewell at an address never used again is dropped only by this bound.
 */
export const forgottenLimit = 1000

/**
 * How long a runner forgotten for its silence keeps its last number: one back after that is taken as new, as one
 * never heard, so that a gap after hours does not re-read every record made meanwhile (`resync`, inline in the
 * listener). A partition of minutes is still caught.
 */
export const forgottenMemoryMillis = 5 * 60_000

/**
 * A runner's wants (`TaskInterest`) lapse when not renewed for this long: renewed every `statsInterval` while it
 * wants anything, and withdrawn at once when it stops wanting; a runner that went away without a farewell stops
 * costing its senders after this.
 */
export const interestExpiryMillis = 5_000

/** How long a finished task's place in its order is kept, at least: a notification of it later than this is told again. */
export const finishedMemoryMillis = 15_000

/**
 * At most this many final records nobody wanted are kept per generation (two of `finishedMemoryMillis`, a full one
 * replaced at once), to be sent should a runner come to want them: a want reaching the task's runner after it ended.
 * The bound keeps a burst from holding every record of the last 30 s; a want takes milliseconds to arrive.
 */
export const unsentLimit = 10_000

/**
 * At most this many tasks known unfinished on other runners are kept past each `finishedMemoryMillis` (those a watch
 * or a wait here follows besides), the longest known forgotten first. A task nothing here follows may never be heard
 * final, as nobody here wants its final record (read through this runner's service, heard of as another runner's
 * watch wanted it, unfinished when this runner first listened): without the bound they would only grow. A task
 * forgotten so is not re-read after a loss, and an earlier record of it heard after is told.
 */
export const openLimit = 10_000

/**
 * How often a wait for a task's final record reads it again (`finalRecord`, by default). The feed tells a final record
 * at once; this bounds the wait when it never will: its runner killed between the commit and the notification, or
 * stopped with the notification still queued, leaves no gap any follower could see.
 */
export const finalRecheck = "5 seconds"

/**
 * At most this many tasks are expected at once (`expect`), both generations together; one expected past it is not
 * followed, and its join reads first, as for any task. An expectation keeps its task's whole final record until a
 * join takes it, and most submissions are never joined: without a bound the records kept would grow with the submit
 * rate times `finishedMemoryMillis` (two generations), whatever their size.
 */
export const expectedLimit = 10_000

/** The listener heard nothing, not even this runner's own counts, for `millis`: it is taken for broken and listens again. */
export class ListenerDeaf extends Schema.TaggedError<ListenerDeaf>("@chainjobs/cluster/ListenerDeaf")("ListenerDeaf", {
  millis: Schema.Number
}) {
  override get message(): string {
    return `the task-change listener heard nothing for ${this.millis} ms while this runner sent its counts`
  }
}

/** The notification channel of the cluster in `schema`: one per schema, as notifications are per database. */
export const channelOf = (schema: string): string => `chainjobs_changes_${hash(schema).toString(36)}`

/**
 * A record goes over the wire as plain JSON: its fields are JSON already (numbers, strings, nulls and payloads,
 * results and checkpoints as their kinds encoded them), and both ends are runners of this code, so no codec runs
 * per change on either end.
 */
const byteLength = (text: string) => Buffer.byteLength(text, "utf8")

/** One change on the wire: a record (`i`), a deleted record (`d`), or the id of a record too large to send (`r`). */
type WireItem = { readonly i: TaskInfo.TaskInfo } | { readonly d: TaskInfo.TaskInfo } | { readonly r: string }

/** The feed of one runner. */
export interface ClusterFeed {
  /**
   * Every change of this runner's tasks, and of every other runner's those it sends (deletions always, the rest while
   * this runner wants them: its followers' `interest`, its joins and expectations), as its record, from now until the
   * runner stops. A follower of every task declares `interest.all`, or hears only what others want.
   */
  readonly changes: Stream.Stream<TaskInfo.TaskInfo>
  /** `changes`, and a `Deleted` event for every deleted record, in order. */
  readonly changesAndDeletions: Stream.Stream<TaskInfo.TaskInfo | TaskEvent.Deleted>
  /** A task's record now, then at every change wherever it runs (the latest wins over a slow reader); ends after its terminal record or its deletion. */
  watch<E>(id: string, read: Effect.Effect<TaskInfo.TaskInfo, E>): Stream.Stream<TaskInfo.TaskInfo, E>
  /**
   * The final record of task `id`, wherever it runs: `read` (its first read, made once the feed follows the task)
   * if that is final, else the final record the feed hears of it — from its runner, which sends it as this wait wants
   * it (declared once the read finds the task unfinished on another runner; its runner sends the record it kept should
   * the want arrive after the task ended), or re-read after changes were lost, or found by reading it again every
   * `finalRecheck`. `None` if the task is deleted first, the feed closes or a later read fails: then the caller reads
   * the store.
   */
  finalRecord<E>(id: string, read: Effect.Effect<TaskInfo.TaskInfo, E>): Effect.Effect<Option.Option<TaskInfo.TaskInfo>, E>
  /**
   * Tells the feed that task `id` is being submitted from here, before the submission is sent, wherever it is placed
   * (this runner, another, a cluster of one): for the next `finishedMemoryMillis` or so, the feed keeps the final
   * record it hears of it, and a `finalRecord` of it begins without its first `read` (the record is not final then
   * unless the feed heard it) unless a runner left since (it may have taken the final record's notification with
   * it); such a wait reads the record at once when a runner leaves. It hears the final record either way: from this
   * runner's own changes for a task run here, from its runner's notification for one run elsewhere (the expectation
   * wants it from the start, until it is heard or its join takes the want over). A join of a submitted task
   * so costs no store read. Forgotten after a loss of changes, on its deletion and once its `finalRecord` took it (a
   * second join reads first); not kept past `expectedLimit` expectations. A `finalRecord` then reads first, as for
   * any task. Returns its withdrawal: for a submission that failed, or answered with another task's id.
   */
  expect(id: string): () => void
  /** Tells every runner's followers that a record (`info`, as it stood) was deleted. */
  deleted(info: TaskInfo.TaskInfo): Effect.Effect<void>
  /**
   * Tells the feed of a record this runner read: no earlier notification of the task is told after it, and a task
   * unfinished on another runner is re-read after changes were lost (so a watch that began with this read ends).
   */
  observed(info: TaskInfo.TaskInfo): Effect.Effect<void>
  /** The counts of every runner: this one's now, the others' last sent. */
  readonly stats: Effect.Effect<TaskStats.TaskStats>
  /** What this runner's followers want of the other runners' intermediate records, declared for a scope each. */
  readonly interest: TaskInterest.TaskInterest["Service"]
}

/**
 * A follower of one task (a watch's stream, or a wait for its final record): what it is handed, and whether a change
 * reached it before its first read did.
 */
interface Watcher {
  /** Hands it a record of its task. */
  readonly offer: (info: TaskInfo.TaskInfo) => void
  /** It hears nothing more: its task was deleted or finished, or the feed closed. */
  readonly end: () => void
  delivered: boolean
}

/**
 * Where a task stands for this runner's followers: the rank of its latest record, and whether a record of that rank
 * was told; `createdAt`, its record's, tells a task submitted again under the id of a deleted one (-1 if unknown).
 */
interface Place {
  readonly rank: RecordOrder.Rank
  readonly progress: number
  readonly message: string | null
  readonly told: boolean
  readonly createdAt: number
}

/** The last notification heard in order from a runner: its session, number and sending time. */
interface Sequence {
  readonly session: string
  readonly seq: number
  readonly sentAt: number
}

/**
 * What a runner wants of the others' records, as last heard from it: every record (`all`), every record of some tasks
 * (`tasks`), and the final records of every task (`allFinals`) or of some (`finals`).
 */
interface Wants {
  readonly all: boolean
  readonly tasks: ReadonlySet<string>
  readonly allFinals: boolean
  readonly finals: ReadonlySet<string>
  readonly at: number
}

/** Final records of this runner's nobody wanted, kept since `since` (this runner's clock). */
interface Unsent {
  readonly since: number
  readonly records: Map<string, TaskInfo.TaskInfo>
}

/** A runner's counts as last heard. */
interface Heard {
  readonly stats: TaskStats.TaskStats
  readonly at: number
}

/**
 * Makes the feed of the runner at `origin` over its own supervisor (`local`),
 * sending and listening on `channel` with `pg` (whose connections should be
 * its own: the listener holds one), until the scope closes.
 */
export const make = Effect.fnUntraced(function*(options: {
  readonly local: Tasks.Tasks["Service"]
  readonly origin: string
  readonly channel: string
  readonly pg: Pick<PgClient.PgClient, "listen" | "notify">
  /** How often a wait for a final record reads it again (`finalRecheck` if not given). */
  readonly finalRecheck?: Duration.Input | undefined
  /** How many tasks may be expected at once (`expectedLimit` if not given). */
  readonly expectedLimit?: number | undefined
  /** How many runners forgotten for their silence keep their last number (`forgottenLimit` if not given). */
  readonly forgottenLimit?: number | undefined
  /** How many final records nobody wanted are kept per generation (`unsentLimit` if not given). */
  readonly unsentLimit?: number | undefined
  /** How many tasks known unfinished elsewhere and followed by nothing here are kept (`openLimit` if not given). */
  readonly openLimit?: number | undefined
}) {
  const { channel, local, origin, pg } = options
  const expectAtMost = options.expectedLimit ?? expectedLimit
  const forgetAtMost = options.forgottenLimit ?? forgottenLimit
  const keepUnsentAtMost = options.unsentLimit ?? unsentLimit
  const openAtMost = options.openLimit ?? openLimit
  const recheckEvery = options.finalRecheck ?? finalRecheck
  const store = yield* TaskStore.TaskStore
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  const changeQueues = new Set<Queue.Queue<TaskInfo.TaskInfo, Cause.Done>>()
  const journalQueues = new Set<Queue.Queue<TaskInfo.TaskInfo | TaskEvent.Deleted, Cause.Done>>()
  const byTask = new Map<string, Set<Watcher>>()
  /**
   * Other runners' tasks known as unfinished, with their last record: heard of, read through this runner's service,
   * or found unfinished when this runner first listened. Re-read after a loss.
   */
  const remoteOpen = new Map<string, TaskInfo.TaskInfo>()
  /**
   * This runner's own tasks expected here (`expect`, the only ones a wait follows unread) and unfinished by its own
   * changes: their final record reaches its followers from its own supervisor, which no runner's leaving takes away,
   * so a runner's leaving reads none of them (`left`). Only expected ones: a backlog of every unfinished task here
   * would cost a set entry each.
   */
  const ownOpen = new Set<string>()
  /** Where each task followed here stands: unfinished ones, and finished ones in two generations (`finishedMemoryMillis`). */
  const openPlaces = new Map<string, Place>()
  let finishedPlaces = new Map<string, Place>()
  let finishedBefore = new Map<string, Place>()
  /**
   * Tasks submitted from here, wherever placed (`expect`), in two generations as the finished places: with the
   * final record heard of each (until then when it was expected, by the feed's clock; `deliver` fills it, for own
   * and others' changes alike), kept for its `finalRecord`. At most `expectAtMost` of them in both generations.
   */
  let expected = new Map<string, TaskInfo.TaskInfo | number>()
  let expectedBefore = new Map<string, TaskInfo.TaskInfo | number>()
  /** Which generation expects task `id`, if one does. */
  const expectationOf = (id: string) => expected.has(id) ? expected : expectedBefore.has(id) ? expectedBefore : undefined
  /** Waits for a final record begun without a read (`expect`), by task: read at once when a runner leaves. */
  const blind = new Map<string, number>()
  /** When a runner last left (said farewell, started again, fell silent): expectations older than that are read first. */
  let leftAt = Number.NEGATIVE_INFINITY
  /** Runners taken for gone for their silence: not again until heard from. */
  const silent = new Set<string>()
  const heard = new Map<string, Heard>()
  /** What each other runner wants of this runner's records. */
  const wants = new Map<string, Wants>()
  /** What this runner's followers want of the others': declarations of every task, and of each task. */
  let wantedAll = 0
  const wantedTasks = new Map<string, number>()
  /** The tasks whose final records this runner waits for: declarations of each (expectations, joins). */
  const wantedFinals = new Map<string, number>()
  /** The expectations (`expect`) holding a declaration in `wantedFinals`: not yet heard final, taken or dropped. */
  const expectingFinal = new Set<string>()
  /** Final records of this runner's that no other runner wanted when sent, in two generations (`unsentLimit`). */
  let unsent: Unsent = { since: now(), records: new Map() }
  let unsentBefore: Unsent = { since: now(), records: new Map() }
  /** When each other runner was last heard from (counts or changes), by its address. */
  const peers = new Map<string, number>()
  /** The last notification heard in order from each other runner. */
  const sequences = new Map<string, Sequence>()
  /**
   * The last of runners forgotten for their silence and when they were forgotten, longest forgotten first (at most
   * `forgetAtMost`, none for longer than `forgottenMemoryMillis`).
   */
  const forgotten = new Map<string, { readonly last: Sequence; readonly at: number }>()
  const startedAt = now()
  /** When the listener last heard anything (this runner's own notifications too), and when this runner last sent. */
  let lastHeardAt = startedAt
  let lastSentAt = startedAt
  /** Whether the listener is reading records again (notifications wait meanwhile: it is not deaf). */
  let resyncing = false
  /**
   * Whether another runner may be listening: one was heard from lately (a runner announces itself, its counts, as
   * soon as it listens, and the others answer with theirs), or this one started moments ago and has not heard the
   * answers yet.
   */
  const othersHeard = () => {
    const at = now()
    if (at - startedAt < peerExpiryMillis / 6) return true
    for (const [from, heardAt] of peers) {
      if (at - heardAt <= peerExpiryMillis) return true
      peers.delete(from)
    }
    return false
  }
  let closed = false

  const placeOf = (id: string) => openPlaces.get(id) ?? finishedPlaces.get(id) ?? finishedBefore.get(id)
  /** Whether a place is a deletion's. */
  const isDeletedPlace = (last: Place) => RecordOrder.compareRanks(last.rank, RecordOrder.deleted) === 0
  /**
   * The place of record `info`'s task: none when the place is the deletion of a task created before it — `info` is a
   * new task submitted again under that (caller-chosen) id, not a late record of the deleted one.
   */
  const placeFor = (info: TaskInfo.TaskInfo) => {
    const last = placeOf(info.id)
    return last !== undefined && isDeletedPlace(last) && info.createdAt > last.createdAt ? undefined : last
  }
  const place = (id: string, rank: RecordOrder.Rank, info: TaskInfo.TaskInfo | undefined, told: boolean) => {
    const entry: Place = { rank, progress: info?.progress ?? 0, message: info?.message ?? null, told, createdAt: info?.createdAt ?? -1 }
    if (rank[0] === 0) openPlaces.set(id, entry)
    else {
      openPlaces.delete(id)
      finishedBefore.delete(id)
      finishedPlaces.set(id, entry)
    }
  }
  /**
   * Whether a record heard from elsewhere is news here: not earlier than the task's latest, nor a finished record told
   * again (a record of a task submitted again under a deleted one's id is its own task's: `placeFor`).
   */
  const isNews = (info: TaskInfo.TaskInfo) => {
    const rank = RecordOrder.rankOf(info)
    const last = placeFor(info)
    if (last !== undefined) {
      const order = RecordOrder.compareRanks(rank, last.rank)
      if (order < 0) return false
      if (
        order === 0 && last.told &&
        (rank[0] !== 0 || (last.progress === info.progress && last.message === info.message))
      ) return false
    }
    place(info.id, rank, info, true)
    return true
  }

  /**
   * Hands one change to every local follower. A deletion, this runner's or heard from another, also drops a final
   * record of the task kept unsent here: a want of it arriving later gets nothing (the deletion went everywhere).
   */
  const deliver = (item: TaskInfo.TaskInfo | TaskEvent.Deleted) => {
    const deletion = "_tag" in item
    const info = deletion ? item.info : item
    if (deletion) {
      unsent.records.delete(info.id)
      unsentBefore.records.delete(info.id)
    }
    for (const queue of journalQueues) Queue.offerUnsafe(queue, item)
    if (!deletion) for (const queue of changeQueues) Queue.offerUnsafe(queue, info)
    const expecting = expectationOf(info.id)
    if (expecting !== undefined) {
      if (deletion) expecting.delete(info.id)
      else if (TaskInfo.isTerminal(info.status)) expecting.set(info.id, info)
      if (deletion || TaskInfo.isTerminal(info.status)) unexpect(info.id)
    }
    const watchers = byTask.get(info.id)
    if (watchers === undefined) return
    for (const watcher of watchers) {
      watcher.delivered = true
      if (!deletion) watcher.offer(info)
      if (deletion || TaskInfo.isTerminal(info.status)) watcher.end()
    }
  }

  /** Hands a change heard from another runner (or read) to the local followers, if it is news, keeping track of its unfinished tasks. */
  const deliverRemote = (item: TaskInfo.TaskInfo | TaskEvent.Deleted) => {
    const deletion = "_tag" in item
    const info = deletion ? item.info : item
    if (deletion) {
      // a deletion heard again (a peer sending it twice, a replayed notification) was told already: told once; not
      // the deletion of a task submitted again under the id since (created later)
      const last = placeOf(info.id)
      if (last !== undefined && last.told && isDeletedPlace(last) && info.createdAt <= last.createdAt) return
      place(info.id, RecordOrder.deleted, info, true)
    } else if (!isNews(info)) return
    if (deletion || TaskInfo.isTerminal(info.status)) remoteOpen.delete(info.id)
    else remoteOpen.set(info.id, info)
    // another runner's record is the latest: the task is not (or no longer) run here
    if (info.runner !== origin) ownOpen.delete(info.id)
    deliver(item)
  }

  /**
   * A change of this runner's own: its followers hear it at once; a task that moved here leaves the others' places. A
   * deletion always takes the task's place, heard of here or not: a record of the deleted task that another runner
   * sent before it (its final record, as it is interrupted for the deletion) arrives after it, and is no news.
   */
  const deliverOwn = (item: TaskInfo.TaskInfo | TaskEvent.Deleted) => {
    const deletion = "_tag" in item
    const info = deletion ? item.info : item
    if (deletion || placeOf(info.id) !== undefined) {
      place(info.id, deletion ? RecordOrder.deleted : RecordOrder.rankOf(info), info, true)
      remoteOpen.delete(info.id)
    }
    if (deletion || TaskInfo.isTerminal(info.status)) ownOpen.delete(info.id)
    else if (expectationOf(info.id) !== undefined) {
      ownOpen.add(info.id)
      // run here: its final record comes from this runner's own supervisor, no other runner need send it
      unexpect(info.id)
    }
    deliver(item)
  }

  /**
   * A record this runner's service read (a watch's first read, among others): a later notification may not take
   * it back, and a task unfinished elsewhere is re-read after a loss, so its watch still hears its end. A record of a
   * task submitted again under a deleted one's id is its own task's (`placeFor`): the deletion's place gives way to it.
   */
  const observed = (info: TaskInfo.TaskInfo) =>
    Effect.sync(() => {
      if (info.runner === origin) return
      const rank = RecordOrder.rankOf(info)
      const last = placeFor(info)
      if (last === undefined || RecordOrder.compareRanks(rank, last.rank) > 0) place(info.id, rank, info, false)
      if (rank[0] === 0 && (last === undefined || last.rank[0] === 0)) remoteOpen.set(info.id, info)
    })

  // Sending: the changes not yet sent, packed per send; every notification numbered in its sender's session.
  const session = Math.floor(Math.random() * 36 ** 6).toString(36)
  let sequence = 0
  const sending = yield* Semaphore.make(1)
  /** Sends one notification of kind `what` (`c` changes, `s` counts, `g` farewell): numbered, one at a time, so numbers arrive in order. */
  const post = (what: string, body: string) =>
    Semaphore.withPermit(
      sending,
      Effect.suspend(() => notify(`${origin}\n${what}${session}.${++sequence}.${now()}\n${body}`))
    )
  /**
   * A send skipped (nobody was heard): it still takes its number, so a runner that was listening after all knows it
   * missed one. Not behind the send under way: that one has its number already, and this one's shows as missing
   * after it.
   */
  const skip = Effect.sync(() => void ++sequence)
  const outgoing = yield* Queue.unbounded<TaskInfo.TaskInfo | TaskEvent.Deleted>()
  const wire = (item: TaskInfo.TaskInfo | TaskEvent.Deleted): WireItem => {
    if ("_tag" in item) {
      const encoded = { d: item.info }
      // A deleted record cannot be read back: sent without its large parts.
      return byteLength(JSON.stringify(encoded)) < payloadLimit - 200 ? encoded : { d: trimmed(item.info) }
    }
    return { i: item }
  }
  /** Room left for items in a notification after its two header lines. */
  const headroom = payloadLimit - byteLength(`${origin}\nc${session}.${Number.MAX_SAFE_INTEGER}.${Number.MAX_SAFE_INTEGER}\n`) - 2
  const send = (items: ReadonlyArray<WireItem>) => {
    const bodies: Array<string> = []
    let parts: Array<string> = []
    let size = 0
    for (const item of items) {
      let text = JSON.stringify(item)
      let length = byteLength(text)
      if (length > headroom) {
        // the receiver reads it back, or tells a record gone from the store as deleted
        text = JSON.stringify({ r: "i" in item ? item.i.id : "d" in item ? item.d.id : item.r })
        length = byteLength(text)
      }
      if (size + length + 1 > headroom && parts.length > 0) {
        bodies.push(`[${parts.join(",")}]`)
        parts = []
        size = 0
      }
      parts.push(text)
      size += length + 1
    }
    if (parts.length > 0) bodies.push(`[${parts.join(",")}]`)
    return Effect.forEach(bodies, (body) => post("c", body), { discard: true })
  }
  const notify = (message: string) =>
    pg.notify(channel, message).pipe(
      Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.upTo({ times: 4 }))),
      Effect.tap(() => Effect.sync(() => (lastSentAt = now()))),
      Effect.catchCause((cause) => Effect.logWarning("Could not tell the other runners of task changes", cause))
    )

  /**
   * This runner's deletions queued to be sent and not yet taken by a send's decision, by task: a final record of a
   * task deleted meanwhile (within its send's `linger`, or queued after it) is not kept unsent (`wantedOf`), as the
   * deletion, which drops the kept ones, has gone by or goes with it.
   */
  const deletionsQueued = new Map<string, number>()
  /** A change of this runner's own: told to its followers at once, and queued to be sent. */
  const own = (item: TaskInfo.TaskInfo | TaskEvent.Deleted) => {
    deliverOwn(item)
    if ("_tag" in item) deletionsQueued.set(item.info.id, (deletionsQueued.get(item.info.id) ?? 0) + 1)
    Queue.offerUnsafe(outgoing, item)
  }
  /** The deletions of a send's `items` are decided: no longer queued. */
  const dequeued = (items: ReadonlyArray<TaskInfo.TaskInfo | TaskEvent.Deleted>) => {
    for (const item of items) {
      if (!("_tag" in item)) continue
      const count = deletionsQueued.get(item.info.id) ?? 0
      if (count > 1) deletionsQueued.set(item.info.id, count - 1)
      else deletionsQueued.delete(item.info.id)
    }
  }

  // This runner's own changes: to its followers at once, and to the other runners.
  const ownChanges = yield* Stream.toPull(local.changesAndDeletions)
  const stampLocal = (info: TaskInfo.TaskInfo): TaskInfo.TaskInfo => info.runner === undefined ? { ...info, runner: origin } : info
  yield* Effect.forkScoped(
    Effect.forever(Effect.flatMap(ownChanges, (items) =>
      Effect.sync(() => {
        for (const item of items) own("_tag" in item ? { _tag: "Deleted" as const, info: stampLocal(item.info) } : stampLocal(item))
      }))).pipe(Effect.catchCause(() => Effect.void))
  )
  // Encoded and sent only while another runner is there to hear them: a lone runner spends nothing on it.
  // The first change waits `linger` for those that follow, so that a burst goes in a few notifications, not one each.
  const nextBatch = Effect.flatMap(Queue.takeAll(outgoing), (first) =>
    Effect.map(Effect.andThen(Effect.sleep(linger), Queue.clear(outgoing)), (more) => [...first, ...more]))
  yield* Effect.forkScoped(Effect.forever(Effect.flatMap(nextBatch, (items) => {
    const going = othersHeard() ? wantedOf(items) : undefined
    dequeued(items)
    if (going === undefined) return skip
    return going.length === 0 ? Effect.void : send(going.map(wire))
  })))

  /**
   * The changes of `items` another runner is to hear: deletions, and the records some runner wants (its wants not
   * lapsed). A final record nobody wants is kept (`keepUnsent`), should a want of it arrive late.
   */
  const wantedOf = (items: ReadonlyArray<TaskInfo.TaskInfo | TaskEvent.Deleted>) => {
    const at = now()
    let lists: Array<Wants> | undefined
    let allFinals = false
    for (const [from, want] of wants) {
      if (at - want.at > interestExpiryMillis) wants.delete(from)
      else if (want.all) return items
      else {
        if (want.allFinals) allFinals = true
        if (want.tasks.size > 0 || want.finals.size > 0) (lists ??= []).push(want)
      }
    }
    return items.filter((item) => {
      if ("_tag" in item) return true
      const final = TaskInfo.isTerminal(item.status)
      if (final && allFinals) return true
      if (lists !== undefined && lists.some((want) => want.tasks.has(item.id) || (final && want.finals.has(item.id)))) return true
      // deleted meanwhile: the deletion dropped the records kept before, and this one would outlive it
      if (final && !deletionsQueued.has(item.id)) keepUnsent(item)
      return false
    })
  }

  /** Keeps a final record nobody wanted; a full generation is replaced at once (`unsentLimit`). */
  const keepUnsent = (info: TaskInfo.TaskInfo) => {
    if (unsent.records.size >= keepUnsentAtMost) rotateUnsent()
    unsent.records.set(info.id, info)
  }
  const rotateUnsent = () => {
    unsentBefore = unsent
    unsent = { since: now(), records: new Map() }
  }
  /** Sends a kept final record of task `id`, if kept: a runner has come to want it. */
  const sendKept = (id: string) => {
    const info = unsent.records.get(id) ?? unsentBefore.records.get(id)
    if (info === undefined) return
    unsent.records.delete(id)
    unsentBefore.records.delete(id)
    Queue.offerUnsafe(outgoing, info)
  }
  /**
   * A runner's wants heard (`want`, after `before`; the notification sent at `sentAt` by its clock): the kept final
   * records it has come to want are sent. Of a task named: its record, if kept. Of every task (`a` or `e` newly told):
   * those of tasks that ended since shortly before its previous wants (a task it came to want since then ended after
   * it did), or shortly before this notification was sent if none are known (`resyncMarginMillis` for the clocks):
   * an all-tasks stream follows from its start, and gets no final record much older than itself.
   */
  const sendWanted = (want: Wants, before: Wants | undefined, sentAt: number) => {
    if (unsent.records.size === 0 && unsentBefore.records.size === 0) return
    const fresh = before === undefined || now() - before.at > interestExpiryMillis
    if ((want.all || want.allFinals) && (fresh || !(before.all || before.allFinals))) {
      const since = (fresh ? sentAt : before.at) - resyncMarginMillis
      for (const generation of [unsentBefore, unsent]) {
        for (const [id, info] of generation.records) {
          if ((info.finishedAt ?? since) < since) continue
          generation.records.delete(id)
          Queue.offerUnsafe(outgoing, info)
        }
      }
    }
    for (const id of want.tasks) sendKept(id)
    for (const id of want.finals) sendKept(id)
  }

  // What this runner's followers want, told to the others: when it changes (changes within `linger` told
  // together), and every second while anything is wanted.
  const wantsChanged = yield* Queue.sliding<void>(1)
  const changedWants = () => void Queue.offerUnsafe(wantsChanged, undefined)
  const wanting = () => wantedAll > 0 || wantedTasks.size > 0 || wantedFinals.size > 0
  /**
   * This runner's wants as a notification's body: every record of every task (`a`) or of some (`t`), with the tasks
   * whose final records it waits for (`f`) or, should that list not fit, every final record (`e`); every record and
   * every final record if the list of tasks does not fit either. A runner sends the final records it kept of the
   * tasks named, and once `a` or `e` is told, those of tasks that ended lately (`sendWanted`).
   */
  const wantsBody = () => {
    const f = wantedFinals.size === 0 ? undefined : [...wantedFinals.keys()]
    if (wantedAll > 0) {
      if (f === undefined) return `{"a":1}`
      const body = JSON.stringify({ a: 1, f })
      return byteLength(body) <= headroom ? body : `{"a":1,"e":1}`
    }
    const t = [...wantedTasks.keys()]
    const body = JSON.stringify(f === undefined ? { t } : { t, f })
    if (byteLength(body) <= headroom) return body
    const finalsAll = JSON.stringify({ t, e: 1 })
    return byteLength(finalsAll) <= headroom ? finalsAll : `{"a":1,"e":1}`
  }
  /** The wants last told, and whether they wanted anything: then a renewal tells that nothing is wanted now. */
  let toldBody = ""
  let toldWanting = false
  /** Tells this runner's wants: a renewal always, a change only if they differ from the last told (every final record, say). */
  const tellWants = (renewal: boolean) =>
    Effect.suspend(() => {
      const body = wantsBody()
      if (!renewal && body === toldBody) return Effect.void
      toldBody = body
      toldWanting = wanting()
      return post("w", body)
    })
  const renewWants = Effect.suspend(() => wanting() || toldWanting ? tellWants(true) : Effect.void)
  yield* Effect.forkScoped(Effect.forever(
    Effect.andThen(Queue.take(wantsChanged), Effect.andThen(Effect.andThen(Effect.sleep(linger), Queue.clear(wantsChanged)), tellWants(false)))
  ))
  const declareTask = (id: string) => {
    const count = wantedTasks.get(id) ?? 0
    wantedTasks.set(id, count + 1)
    if (count === 0 && wantedAll === 0) changedWants()
  }
  const withdrawTask = (id: string) => {
    const count = wantedTasks.get(id) ?? 0
    if (count > 1) wantedTasks.set(id, count - 1)
    else if (wantedTasks.delete(id) && wantedAll === 0) changedWants()
  }
  /** A wait for task `id`'s final record begins: told to the others at once (they may hold it already). */
  const declareFinal = (id: string) => {
    const count = wantedFinals.get(id) ?? 0
    wantedFinals.set(id, count + 1)
    if (count === 0 && wantedAll === 0) changedWants()
  }
  /** A wait for a final record ends: told with the next renewal (a record sent meanwhile costs little). */
  const withdrawFinal = (id: string) => {
    const count = wantedFinals.get(id) ?? 0
    if (count > 1) wantedFinals.set(id, count - 1)
    else wantedFinals.delete(id)
  }
  /** An expectation of task `id` no longer wants its final record: heard, taken by its join, dropped, or run here. */
  const unexpect = (id: string) => {
    if (expectingFinal.delete(id)) withdrawFinal(id)
  }
  const interest = TaskInterest.TaskInterest.of({
    all: Effect.acquireRelease(
      Effect.sync(() => {
        if (wantedAll++ === 0) changedWants()
      }),
      () =>
        Effect.sync(() => {
          if (--wantedAll === 0) changedWants()
        })
    ),
    task: (id) => Effect.acquireRelease(Effect.sync(() => declareTask(id)), () => Effect.sync(() => withdrawTask(id)))
  })

  /** This runner's counts, to the others: every second, and at once to a runner new to it. */
  const sendStats = Effect.flatMap(local.stats, (stats) => post("s", JSON.stringify(stats)))
  const scope = yield* Effect.scope

  // Listening: other runners' changes and counts.
  const receive = (payload: string) =>
    Effect.suspend(() => {
      lastHeardAt = now()
      const newline = payload.indexOf("\n")
      if (newline < 0 || payload.slice(0, newline) === origin) return Effect.void
      const from = payload.slice(0, newline)
      const headerEnd = payload.indexOf("\n", newline + 1)
      if (headerEnd < 0) return Effect.void
      const what = payload[newline + 1]
      const [sessionOf, seqText, sentText] = payload.slice(newline + 2, headerEnd).split(".")
      const seq = Number(seqText)
      const sentAt = Number(sentText)
      // In order, once: a number told before is a repeat (a send retried after PostgreSQL took it); one skipped is a loss.
      // a runner forgotten for its silence and back in the same session: its numbers go on from where they were
      const last = sequences.get(from) ?? forgotten.get(from)?.last
      let lostSince: number | undefined
      if (last !== undefined && last.session === sessionOf) {
        // a repeat (its retried send) leaves a forgotten runner forgotten: its next number is still checked for a gap
        if (seq <= last.seq) return Effect.void
        if (seq > last.seq + 1) lostSince = last.sentAt
      }
      forgotten.delete(from)
      silent.delete(from)
      // a farewell, or a new session with no farewell before it: what the runner had not sent is gone
      const leaving = what === "g" || (last !== undefined && last.session !== sessionOf) ? left([from]) : Effect.void
      const known = peers.has(from)
      if (what === "g") {
        peers.delete(from)
        sequences.delete(from)
        wants.delete(from)
      } else {
        peers.set(from, now())
        sequences.set(from, { session: sessionOf!, seq, sentAt })
      }
      const recover = Effect.andThen(leaving, lostSince === undefined ? Effect.void : resync(lostSince - resyncMarginMillis))

      const body = payload.slice(headerEnd + 1)
      // A runner new to this one: answered at once with this one's counts (so that it knows it is heard) and wants.
      const greet = known ? recover : Effect.andThen(recover, Effect.asVoid(Effect.forkIn(Effect.andThen(sendStats, renewWants), scope)))
      if (what === "s") {
        heard.set(from, { stats: JSON.parse(body), at: now() })
        return greet
      }
      if (what === "w") {
        const told = JSON.parse(body) as {
          readonly a?: 1
          readonly t?: ReadonlyArray<string>
          readonly e?: 1
          readonly f?: ReadonlyArray<string>
        }
        const before = wants.get(from)
        const want: Wants = {
          all: told.a === 1,
          tasks: new Set(told.t ?? []),
          allFinals: told.e === 1,
          finals: new Set(told.f ?? []),
          at: now()
        }
        wants.set(from, want)
        sendWanted(want, before, sentAt)
        return greet
      }
      if (what === "g") {
        heard.delete(from)
        return recover
      }
      return Effect.andThen(recover, tell(JSON.parse(body) as ReadonlyArray<WireItem>, 0))
    }).pipe(Effect.catchCause((cause) => Effect.logWarning("Could not read another runner's notification", cause)))

  /** Tells the changes of a notification from `from` on, in order: at once, but for a record sent by its id, read first. */
  const tell = (items: ReadonlyArray<WireItem>, from: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      for (let i = from; i < items.length; i++) {
        const item = items[i]!
        if ("r" in item) return Effect.andThen(reread(item.r), tell(items, i + 1))
        if ("d" in item) deliverRemote({ _tag: "Deleted", info: item.d })
        else deliverRemote(item.i)
      }
      return Effect.void
    })

  /** Reads a record again and tells it if it is news; one that has gone is told as deleted (as last heard). */
  const reread = (id: string) =>
    Effect.flatMap(Effect.option(store.get(id)), (found) =>
      Effect.sync(() => {
        if (found._tag === "None") return
        if (found.value._tag === "Some") deliverRemote(found.value.value)
        else {
          const last = remoteOpen.get(id)
          if (last !== undefined) deliverRemote({ _tag: "Deleted", info: last })
        }
      }))

  /** The unfinished records another runner runs (or last ran), as the store has them now; none if it cannot be read. */
  const unfinishedElsewhere = Effect.map(
    Effect.orElseSucceed(store.unfinished, () => []),
    (unfinished) => unfinished.filter((info) => info.runner !== origin)
  )

  /**
   * Runners left (`gone`, by address): they may have taken the notification of a final record committed (killed
   * between the two) or still waiting to be sent, and no gap shows it. Expectations older than this are read first by
   * their joins (at once); the waits that began without a read, and the tasks known unfinished on a runner that left
   * (a watch's, an all-tasks stream's), are read again, but none run here: their final records come from this
   * runner's own supervisor. The reads go in a fiber of their own: the notifications heard and the counts sent
   * meanwhile do not wait for them.
   */
  const left = (gone: ReadonlyArray<string>) =>
    Effect.suspend(() => {
      leftAt = now()
      const ids = new Set<string>()
      for (const id of blind.keys()) if (!ownOpen.has(id)) ids.add(id)
      for (const [id, info] of remoteOpen) if (info.runner !== undefined && gone.includes(info.runner) && !ownOpen.has(id)) ids.add(id)
      return ids.size === 0
        ? Effect.void
        : Effect.asVoid(Effect.forkIn(Effect.forEach(ids, reread, { concurrency: 8, discard: true }), scope))
    })

  /**
   * A runner heard from that has sent nothing, not even its counts, for `statsExpiryMillis` has left (`left`), once.
   * One not heard from for `peerExpiryMillis` is forgotten: a runner that died without a farewell costs nothing after
   * but its last number (`forgotten`), kept for `forgottenMemoryMillis` should it come back in the same session.
   */
  const silence = Effect.suspend(() => {
    const at = now()
    const gone: Array<string> = []
    // forgotten too long: its numbers missing since would re-read every record made meanwhile (`resync`)
    for (const [from, { at: forgottenAt }] of forgotten) {
      if (at - forgottenAt <= forgottenMemoryMillis) break
      forgotten.delete(from)
    }
    for (const from of sequences.keys()) {
      const heardAt = peers.get(from)
      if (heardAt === undefined || at - heardAt > peerExpiryMillis) {
        forgotten.set(from, { last: sequences.get(from)!, at })
        if (forgotten.size > forgetAtMost) forgotten.delete(forgotten.keys().next().value!)
        sequences.delete(from)
        silent.delete(from)
        continue
      }
      if (at - heardAt <= statsExpiryMillis || silent.has(from)) continue
      silent.add(from)
      gone.push(from)
    }
    return gone.length > 0 ? left(gone) : Effect.void
  })

  /**
   * After changes may have been lost (an outage of the listener, a missing number): the latest records of what is
   * known to be unfinished elsewhere or followed here, every unfinished record, and every record made since `since`
   * (oldest first) — what a lost notification could have told. Only news is told (`isNews`).
   */
  const resync = (since: number) =>
    Effect.gen(function*() {
      resyncing = true
      // a final record lost meanwhile would not be kept: their waits read first again
      expected.clear()
      expectedBefore.clear()
      for (const id of expectingFinal) withdrawFinal(id)
      expectingFinal.clear()
      const ids = new Set([...remoteOpen.keys(), ...byTask.keys()])
      yield* Effect.forEach(ids, reread, { concurrency: 8, discard: true })
      for (const info of yield* unfinishedElsewhere) if (!ids.has(info.id)) deliverRemote(info)
      const made: Array<TaskInfo.TaskInfo> = []
      let cursor: string | undefined
      do {
        const page = yield* store.list({ createdAfter: since, limit: 1000, ...(cursor === undefined ? {} : { cursor }) })
        made.push(...page.items)
        cursor = page.nextCursor ?? undefined
      } while (cursor !== undefined)
      for (let i = made.length - 1; i >= 0; i--) {
        const info = made[i]!
        if (info.runner !== origin && !ids.has(info.id)) deliverRemote(info)
      }
    }).pipe(
      Effect.catchCause((cause) => Effect.logWarning("Could not read the task records again after lost changes", cause)),
      // the listener was busy reading, not deaf
      Effect.ensuring(Effect.sync(() => {
        resyncing = false
        lastHeardAt = now()
      }))
    )

  /** Every record unfinished elsewhere when this runner first listens: known, so that a loss later re-reads it. */
  const learnUnfinished = Effect.flatMap(unfinishedElsewhere, (unfinished) =>
    Effect.sync(() => {
      for (const info of unfinished) {
        if (placeOf(info.id) !== undefined) continue
        remoteOpen.set(info.id, info)
        place(info.id, RecordOrder.rankOf(info), info, false)
      }
    }))

  /** Fails once the listener has heard nothing, not even this runner's own counts, for `deafAfterMillis`. */
  const deafness = Effect.repeat(
    Effect.suspend(() => {
      const silent = now() - lastHeardAt
      return !resyncing && silent > deafAfterMillis && lastSentAt > lastHeardAt + 1000
        ? Effect.fail(new ListenerDeaf({ millis: silent }))
        : Effect.void
    }),
    Schedule.spaced("1 second")
  )

  let listened = false
  const listening = yield* Deferred.make<void>()
  const listen = Effect.scoped(Effect.gen(function*() {
    const notifications = yield* pg.listen(channel)
    if (listened) {
      // Whatever was sent while nobody here listened is lost: read again since the oldest last notification heard.
      let since = lastHeardAt
      for (const last of sequences.values()) since = Math.min(since, last.sentAt)
      // a forgotten runner's numbers missing since are covered here too: not a loss again when it speaks
      for (const { last } of forgotten.values()) since = Math.min(since, last.sentAt)
      sequences.clear()
      forgotten.clear()
      silent.clear()
      yield* resync(since - resyncMarginMillis)
    } else yield* learnUnfinished
    listened = true
    lastHeardAt = now()
    yield* Deferred.succeed(listening, undefined)
    yield* Effect.raceFirst(
      Effect.forever(Effect.flatMap(Queue.takeAll(notifications), (batch) =>
        Effect.forEach(batch, (notification) => receive(notification.payload), { discard: true }))),
      deafness
    )
  }))
  yield* Effect.forkScoped(
    listen.pipe(
      Effect.tapCause((cause) => Effect.logWarning("The task-change listener stopped; listening again", cause)),
      Effect.retry(Schedule.spaced("1 second")),
      Effect.ignore
    )
  )

  // Listening before the feed is handed out: no change sent after `make` returns is missed.
  yield* Deferred.await(listening)

  // Counts: sent every second, and a farewell at the end. Finished tasks' places are forgotten after a while.
  yield* Effect.forkScoped(Effect.repeat(Effect.andThen(Effect.andThen(sendStats, renewWants), silence), Schedule.spaced(statsInterval)))
  yield* Effect.forkScoped(Effect.repeat(
    Effect.sync(() => {
      finishedBefore = finishedPlaces
      finishedPlaces = new Map()
      for (const id of expectedBefore.keys()) unexpect(id)
      expectedBefore = expected
      expected = new Map()
      rotateUnsent()
      // Tasks known unfinished elsewhere that nothing here follows may never be heard final (nobody here wants their
      // final records): past the bound, the longest known are forgotten.
      if (remoteOpen.size > openAtMost) {
        for (const id of remoteOpen.keys()) {
          if (remoteOpen.size <= openAtMost) break
          if (byTask.has(id) || wantedFinals.has(id)) continue
          remoteOpen.delete(id)
          openPlaces.delete(id)
        }
      }
    }),
    Schedule.spaced(finishedMemoryMillis)
  ))
  yield* Effect.addFinalizer(() =>
    Effect.andThen(
      Effect.sync(() => {
        closed = true
        for (const queue of changeQueues) Queue.endUnsafe(queue)
        for (const queue of journalQueues) Queue.endUnsafe(queue)
        for (const watchers of byTask.values()) for (const watcher of watchers) watcher.end()
      }),
      // Not behind a send under way, which may be retrying for longer than the farewell may take: the
      // farewell goes at once, numbered next.
      Effect.timeoutOption(Effect.suspend(() => notify(`${origin}\ng${session}.${++sequence}.${now()}\n`)), "1 second")
    )
  )
  const follow = <A>(set: Set<Queue.Queue<A, Cause.Done>>) =>
    Stream.callback<A>((queue) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          if (closed) Queue.endUnsafe(queue)
          else set.add(queue)
        }),
        () => Effect.sync(() => set.delete(queue))
      )
    )

  /** Follows task `id` with `watcher` until the returned function is called. */
  const addWatcher = (id: string, watcher: Watcher) => {
    let watchers = byTask.get(id)
    if (watchers === undefined) byTask.set(id, watchers = new Set())
    const followed = watchers
    followed.add(watcher)
    return () => {
      followed.delete(watcher)
      if (followed.size === 0 && byTask.get(id) === followed) byTask.delete(id)
    }
  }

  const watch = <E>(id: string, read: Effect.Effect<TaskInfo.TaskInfo, E>) =>
    Stream.callback<TaskInfo.TaskInfo, E>(
      Effect.fnUntraced(function*(queue) {
        // Following before the first read: no change falls in between.
        const watcher: Watcher = {
          offer: (info) => Queue.offerUnsafe(queue, info),
          end: () => Queue.endUnsafe(queue),
          delivered: false
        }
        const stop = addWatcher(id, watcher)
        yield* interest.task(id)
        yield* Effect.addFinalizer(() => Effect.sync(stop))
        const first = yield* read
        if (!watcher.delivered) {
          Queue.offerUnsafe(queue, first)
          if (TaskInfo.isTerminal(first.status)) Queue.endUnsafe(queue)
        }
        if (closed) Queue.endUnsafe(queue)
      }),
      { bufferSize: 16, strategy: "sliding" }
    )

  const finalRecord = <E>(id: string, read: Effect.Effect<TaskInfo.TaskInfo, E>) =>
    Effect.suspend(() => {
      const expecting = expectationOf(id)
      /** Whether the wait begins without a read: expected since before any runner left, and not heard final. */
      let unread = false
      if (expecting !== undefined) {
        const heard = expecting.get(id)!
        // taken: a later wait reads first, as for any task
        expecting.delete(id)
        if (typeof heard !== "number") return Effect.succeed(Option.some(heard))
        unread = heard > leftAt && !closed
      }
      // The wait's want of the final record: its expectation's, taken over (declared before the submission was sent),
      // or declared once its first read finds the task unfinished on another runner (it ends after that read, and
      // its runner keeps the final record should the want arrive after).
      let wanted = false
      const want = () => {
        if (wanted || closed) return
        wanted = true
        declareFinal(id)
      }
      if (expectingFinal.has(id)) {
        want()
        unexpect(id)
      }
      const final = Deferred.makeUnsafe<Option.Option<TaskInfo.TaskInfo>>()
      /**
       * The task runs here, as far as this wait knows (its first read found it running here, this runner's own changes
       * told it running since, or it was expected and run here before a wait that does not read): its final record comes
       * from this runner, unless it is let go.
       */
      let runningHere = unread && ownOpen.has(id)
      // Following before the first read, as a watch: a final record told meanwhile is kept, or the read finds it.
      const stop = addWatcher(id, {
        offer: (info) => {
          if (TaskInfo.isTerminal(info.status)) return Deferred.doneUnsafe(final, Exit.succeed(Option.some(info)))
          if (info.runner !== origin) return
          // let go unfinished by this runner (handed over as its shard moved): the runner adopting it tells its end
          if (info.status !== "pending") runningHere = true
          else if (runningHere) want()
        },
        end: () => Deferred.doneUnsafe(final, Exit.succeed(Option.none())),
        delivered: false
      })
      // Expected and not heard final: followed since before its submission, so not final yet (or its final record
      // still on its way): no first read, only the reads again, and one at once should a runner leave (`left`).
      if (unread) blind.set(id, (blind.get(id) ?? 0) + 1)
      const unblind = () => {
        const waits = blind.get(id) ?? 0
        if (waits <= 1) blind.delete(id)
        else blind.set(id, waits - 1)
      }
      const firstRead = unread
        ? Effect.succeed(undefined)
        : Effect.map(read, (info): TaskInfo.TaskInfo | undefined => info)
      return firstRead.pipe(
        Effect.flatMap((first) => {
          if (first === undefined) return Effect.raceFirst(Deferred.await(final), readAgain(read))
          if (TaskInfo.isTerminal(first.status)) return Effect.succeed(Option.some(first))
          if (first.runner !== origin) want()
          else if (first.status === "running") runningHere = true
          // The feed tells it at once; reading again bounds the wait should its runner never tell it.
          return closed ? Effect.succeed(Option.none()) : Effect.raceFirst(Deferred.await(final), readAgain(read))
        }),
        Effect.ensuring(Effect.sync(() => {
          stop()
          if (unread) unblind()
          if (wanted) withdrawFinal(id)
        }))
      )
    })

  /** `read` every `recheckEvery` until it is final; `None` once a read fails (the caller reads the store and says why). */
  const readAgain = <E>(read: Effect.Effect<TaskInfo.TaskInfo, E>): Effect.Effect<Option.Option<TaskInfo.TaskInfo>> =>
    Effect.sleep(recheckEvery).pipe(
      Effect.andThen(Effect.exit(read)),
      Effect.flatMap((exit) =>
        Exit.isFailure(exit)
          ? Effect.succeed(Option.none())
          : TaskInfo.isTerminal(exit.value.status)
          ? Effect.succeed(Option.some(exit.value))
          : readAgain(read)
      )
    )

  const stats = Effect.map(local.stats, (own) => {
    const now = clock.currentTimeMillisUnsafe()
    let { maxWorkers, pending, running } = own
    const runningByKind: Record<string, number> = { ...own.runningByKind }
    for (const [from, last] of heard) {
      if (now - last.at > statsExpiryMillis) {
        heard.delete(from)
        continue
      }
      pending += last.stats.pending
      running += last.stats.running
      maxWorkers += last.stats.maxWorkers
      for (const [kind, count] of Object.entries(last.stats.runningByKind)) {
        runningByKind[kind] = (runningByKind[kind] ?? 0) + count
      }
    }
    return { pending, running, maxWorkers, runningByKind, accepting: own.accepting }
  })

  const feed: ClusterFeed = {
    changes: follow(changeQueues),
    changesAndDeletions: follow(journalQueues),
    watch,
    finalRecord,
    expect: (id) => {
      // past the bound not followed: its join reads first
      if (!closed && expected.size + expectedBefore.size < expectAtMost) {
        expected.set(id, now())
        if (!expectingFinal.has(id)) {
          expectingFinal.add(id)
          declareFinal(id)
        }
      }
      return () => {
        expectationOf(id)?.delete(id)
        unexpect(id)
      }
    },
    deleted: (info) => Effect.sync(() => own({ _tag: "Deleted", info: stampLocal(info) })),
    observed,
    stats,
    interest
  }
  return feed
})

/** A record without its payload, result, error, checkpoint and detail: what fits a notification whatever their size. */
const trimmed = (info: TaskInfo.TaskInfo): TaskInfo.TaskInfo => ({
  ...info,
  payload: null,
  result: null,
  error: null,
  checkpoint: null,
  detail: null
})

/** The feed with its own PostgreSQL client of the current schema (`PgClient` from the context, its `search_path` set). */
export const makeFromContext = Effect.fnUntraced(function*(local: Tasks.Tasks["Service"], origin: string) {
  const pg = yield* PgClient.PgClient
  const rows = yield* pg<{ readonly schema: string }>`SELECT current_schema() AS schema`
  return yield* make({ local, origin, pg, channel: channelOf(rows[0]?.schema ?? "public") })
})
