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
 * - notifications of one session arrive in the order sent, so a task's
 *   changes, all made by its owner, arrive in order;
 * - the listener's connection is its own: if it breaks, the runner listens
 *   again and then re-reads every task it was following or heard of as
 *   unfinished, and every unfinished record, so a follower's latest record is
 *   right again (a task that began and ended wholly inside the outage is only
 *   in the store).
 *
 * Counts: each runner sends its supervisor's `stats` every second (and a
 * farewell when it stops); a runner's cluster-wide `stats` add its own to the
 * others' last, those older than three seconds left out (a dead runner).
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
import { type Cause, Clock, Deferred, Effect, Queue, Schedule, Stream } from "effect"
import { PgClient } from "@effect/sql-pg"
import { type TaskEvent, TaskInfo, type Tasks, type TaskStats, TaskStore } from "@chainjobs/tasks"
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
  /** Every change of every runner's tasks, as its record, from now until the runner stops. */
  readonly changes: Stream.Stream<TaskInfo.TaskInfo>
  /** `changes`, and a `Deleted` event for every deleted record, in order. */
  readonly changesAndDeletions: Stream.Stream<TaskInfo.TaskInfo | TaskEvent.Deleted>
  /** A task's record now, then at every change wherever it runs (the latest wins over a slow reader); ends after its terminal record or its deletion. */
  watch<E>(id: string, read: Effect.Effect<TaskInfo.TaskInfo, E>): Stream.Stream<TaskInfo.TaskInfo, E>
  /** Tells every runner's followers that a record (`info`, as it stood) was deleted. */
  deleted(info: TaskInfo.TaskInfo): Effect.Effect<void>
  /** The counts of every runner: this one's now, the others' last sent. */
  readonly stats: Effect.Effect<TaskStats.TaskStats>
}

/** A follower of one task: its stream's queue, and whether a change reached it before its first read did. */
interface Watcher {
  readonly queue: Queue.Enqueue<TaskInfo.TaskInfo, Cause.Done>
  delivered: boolean
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
  readonly pg: PgClient.PgClient
}) {
  const { channel, local, origin, pg } = options
  const store = yield* TaskStore.TaskStore
  const clock = yield* Clock.Clock
  const changeQueues = new Set<Queue.Queue<TaskInfo.TaskInfo, Cause.Done>>()
  const journalQueues = new Set<Queue.Queue<TaskInfo.TaskInfo | TaskEvent.Deleted, Cause.Done>>()
  const byTask = new Map<string, Set<Watcher>>()
  /** Other runners' tasks heard of as unfinished, with their last record: re-read after the listener's outage. */
  const remoteOpen = new Map<string, TaskInfo.TaskInfo>()
  const heard = new Map<string, Heard>()
  /** When each other runner was last heard from (counts or changes), by its address. */
  const peers = new Map<string, number>()
  const startedAt = clock.currentTimeMillisUnsafe()
  /**
   * Whether another runner may be listening: one was heard from lately (a runner announces itself, its counts, as
   * soon as it listens, and the others answer with theirs), or this one started moments ago and has not heard the
   * answers yet.
   */
  const othersHeard = () => {
    const now = clock.currentTimeMillisUnsafe()
    if (now - startedAt < peerExpiryMillis / 6) return true
    for (const [from, at] of peers) {
      if (now - at <= peerExpiryMillis) return true
      peers.delete(from)
    }
    return false
  }
  let closed = false

  /** Hands one change to every local follower. */
  const deliver = (item: TaskInfo.TaskInfo | TaskEvent.Deleted) => {
    const deletion = "_tag" in item
    const info = deletion ? item.info : item
    for (const queue of journalQueues) Queue.offerUnsafe(queue, item)
    if (!deletion) for (const queue of changeQueues) Queue.offerUnsafe(queue, info)
    const watchers = byTask.get(info.id)
    if (watchers === undefined) return
    for (const watcher of watchers) {
      watcher.delivered = true
      if (!deletion) Queue.offerUnsafe(watcher.queue, info)
      if (deletion || TaskInfo.isTerminal(info.status)) Queue.endUnsafe(watcher.queue)
    }
  }

  /** Hands a change heard from another runner to the local followers, keeping track of its unfinished tasks. */
  const deliverRemote = (item: TaskInfo.TaskInfo | TaskEvent.Deleted) => {
    const deletion = "_tag" in item
    const info = deletion ? item.info : item
    if (deletion || TaskInfo.isTerminal(info.status)) remoteOpen.delete(info.id)
    else remoteOpen.set(info.id, info)
    deliver(item)
  }

  // Sending: the changes not yet sent, packed per send.
  const outgoing = yield* Queue.unbounded<TaskInfo.TaskInfo | TaskEvent.Deleted>()
  const wire = (item: TaskInfo.TaskInfo | TaskEvent.Deleted): WireItem => {
    if ("_tag" in item) {
      const encoded = { d: item.info }
      // A deleted record cannot be read back: sent without its large parts.
      return JSON.stringify(encoded).length < payloadLimit - 200 ? encoded : { d: trimmed(item.info) }
    }
    return { i: item }
  }
  const send = (items: ReadonlyArray<WireItem>) => {
    const messages: Array<string> = []
    const head = `${origin}\nc`
    let parts: Array<string> = []
    let size = byteLength(head) + 2
    for (const item of items) {
      let text = JSON.stringify(item)
      let length = byteLength(text)
      if (length + head.length + 2 > payloadLimit) {
        text = JSON.stringify({ r: "i" in item ? item.i.id : "" })
        length = byteLength(text)
      }
      if (size + length + 1 > payloadLimit && parts.length > 0) {
        messages.push(`${head}[${parts.join(",")}]`)
        parts = []
        size = byteLength(head) + 2
      }
      parts.push(text)
      size += length + 1
    }
    if (parts.length > 0) messages.push(`${head}[${parts.join(",")}]`)
    return Effect.forEach(messages, (message) => notify(message), { discard: true })
  }
  const notify = (message: string) =>
    pg.notify(channel, message).pipe(
      Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.upTo({ times: 4 }))),
      Effect.catchCause((cause) => Effect.logWarning("Could not tell the other runners of task changes", cause))
    )

  // This runner's own changes: to its followers at once, and to the other runners.
  const ownChanges = yield* Stream.toPull(local.changesAndDeletions)
  const stampLocal = (info: TaskInfo.TaskInfo): TaskInfo.TaskInfo => info.runner === undefined ? { ...info, runner: origin } : info
  yield* Effect.forkScoped(
    Effect.forever(Effect.flatMap(ownChanges, (items) =>
      Effect.sync(() => {
        for (const item of items) {
          const stamped = "_tag" in item ? { _tag: "Deleted" as const, info: stampLocal(item.info) } : stampLocal(item)
          deliver(stamped)
          Queue.offerUnsafe(outgoing, stamped)
        }
      }))).pipe(Effect.catchCause(() => Effect.void))
  )
  // Encoded and sent only while another runner is there to hear them: a lone runner spends nothing on it.
  // The first change waits `linger` for those that follow, so that a burst goes in a few notifications, not one each.
  const nextBatch = Effect.flatMap(Queue.takeAll(outgoing), (first) =>
    Effect.map(Effect.andThen(Effect.sleep(linger), Queue.clear(outgoing)), (more) => [...first, ...more]))
  yield* Effect.forkScoped(Effect.forever(Effect.flatMap(nextBatch, (items) =>
    othersHeard() ? send(items.map(wire)) : Effect.void)))

  /** This runner's counts, to the others: every second, and at once to a runner new to it. */
  const sendStats = Effect.flatMap(local.stats, (stats) => notify(`${origin}\ns${JSON.stringify(stats)}`))
  const scope = yield* Effect.scope

  // Listening: other runners' changes and counts.
  const receive = (payload: string) =>
    Effect.suspend(() => {
      const newline = payload.indexOf("\n")
      if (newline < 0 || payload.slice(0, newline) === origin) return Effect.void
      const from = payload.slice(0, newline)
      const what = payload[newline + 1]
      const known = peers.has(from)
      if (what === "g") peers.delete(from)
      else peers.set(from, clock.currentTimeMillisUnsafe())

      const body = payload.slice(newline + 2)
      if (what === "s") {
        heard.set(from, { stats: JSON.parse(body), at: clock.currentTimeMillisUnsafe() })
        // A runner new to this one: answered at once with this one's counts, so that it knows it is heard.
        return known ? Effect.void : Effect.asVoid(Effect.forkIn(sendStats, scope))
      }
      if (what === "g") {
        heard.delete(from)
        return Effect.void
      }
      const items = JSON.parse(body) as ReadonlyArray<WireItem>
      return Effect.forEach(items, (item) => {
        if ("r" in item) return reread(item.r)
        if ("d" in item) return Effect.sync(() => deliverRemote({ _tag: "Deleted", info: item.d }))
        return Effect.sync(() => deliverRemote(item.i))
      }, { discard: true })
    }).pipe(Effect.catchCause((cause) => Effect.logWarning("Could not read another runner's notification", cause)))

  /** Reads a record again and tells it; one that has gone is told as deleted (as last heard). */
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

  /** After an outage of the listener: the latest records of what was followed, heard of, or is unfinished. */
  const resync = Effect.gen(function*() {
    const ids = new Set([...remoteOpen.keys(), ...byTask.keys()])
    yield* Effect.forEach(ids, reread, { concurrency: 8, discard: true })
    const unfinished = yield* Effect.orElseSucceed(store.unfinished, () => [])
    for (const info of unfinished) if (info.runner !== origin && !ids.has(info.id)) deliverRemote(info)
  })

  let listened = false
  const listening = yield* Deferred.make<void>()
  const listen = Effect.scoped(Effect.gen(function*() {
    const notifications = yield* pg.listen(channel)
    if (listened) yield* resync
    listened = true
    yield* Deferred.succeed(listening, undefined)
    yield* Effect.forever(Effect.flatMap(Queue.takeAll(notifications), (batch) =>
      Effect.forEach(batch, (notification) => receive(notification.payload), { discard: true })))
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

  // Counts: sent every second, and a farewell at the end.
  yield* Effect.forkScoped(Effect.repeat(sendStats, Schedule.spaced(statsInterval)))
  yield* Effect.addFinalizer(() =>
    Effect.andThen(
      Effect.sync(() => {
        closed = true
        for (const queue of changeQueues) Queue.endUnsafe(queue)
        for (const queue of journalQueues) Queue.endUnsafe(queue)
        for (const watchers of byTask.values()) for (const watcher of watchers) Queue.endUnsafe(watcher.queue)
      }),
      Effect.timeoutOption(notify(`${origin}\ng`), "1 second")
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

  const watch = <E>(id: string, read: Effect.Effect<TaskInfo.TaskInfo, E>) =>
    Stream.callback<TaskInfo.TaskInfo, E>(
      Effect.fnUntraced(function*(queue) {
        // Following before the first read: no change falls in between.
        const watcher: Watcher = { queue, delivered: false }
        let watchers = byTask.get(id)
        if (watchers === undefined) byTask.set(id, watchers = new Set())
        const followed = watchers
        followed.add(watcher)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            followed.delete(watcher)
            if (followed.size === 0 && byTask.get(id) === followed) byTask.delete(id)
          })
        )
        const first = yield* read
        if (!watcher.delivered) {
          Queue.offerUnsafe(queue, first)
          if (TaskInfo.isTerminal(first.status)) Queue.endUnsafe(queue)
        }
        if (closed) Queue.endUnsafe(queue)
      }),
      { bufferSize: 16, strategy: "sliding" }
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
    deleted: (info) =>
      Effect.sync(() => {
        const item = { _tag: "Deleted" as const, info: stampLocal(info) }
        deliver(item)
        Queue.offerUnsafe(outgoing, item)
      }),
    stats
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
