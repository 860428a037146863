/**
 * The feed's promises to its subscribers, counted change by change: event ids
 * grow by one per change; resuming after an id replays exactly what followed
 * (an id that is not this feed's, or not yet given, starts with an `unknown`
 * gap; one the ring no longer holds with an `expired` gap); an all-tasks
 * subscriber may fall exactly `subscriberBuffer` changes behind and is dropped
 * one change later, told where to resume; a task stream keeps the latest
 * `taskBuffer` records and ends after the terminal one; a deletion is a
 * change of its own; and a feed whose supervisor shut down ends every stream.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Queue, Schema, Scope, Stream } from "effect"
import * as Task from "../src/Task.ts"
import { TaskContext } from "../src/TaskContext.ts"
import * as TaskFeed from "../src/TaskFeed.ts"
import * as TaskInfo from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import { settle, startOn, supervisor } from "./fixtures.ts"

/** A task that reports one progress change per number the test sends it, and completes on a negative one (task "b" reads a queue of its own). */
const Ticker = Task.define("feed-ticker", {
  payload: Schema.Struct({ name: Schema.String }),
  success: Schema.Number
})

/** The ticker's handler over the test's queue of numbers. */
const tickerLive = (ticks: Queue.Queue<number>, ofB: Queue.Queue<number> = ticks) =>
  Task.implement(Ticker, ({ name }) =>
    Effect.gen(function*() {
      const context = yield* TaskContext
      let n = 0
      while (true) {
        const tick = yield* Queue.take(name === "b" ? ofB : ticks)
        if (tick < 0) return n
        n = tick
        yield* context.progress(tick)
      }
    }))

/** A supervisor with the ticker and a feed of the given settings. */
const withFeed = <A, E>(
  config: Partial<TaskFeed.TaskFeedConfig>,
  body: (ticks: Queue.Queue<number>, ofB: Queue.Queue<number>) => Effect.Effect<A, E, Tasks.Tasks | TaskFeed.TaskFeed | Scope.Scope>
) =>
  Effect.gen(function*() {
    const ticks = yield* Queue.unbounded<number>()
    const ofB = yield* Queue.unbounded<number>()
    return yield* body(ticks, ofB).pipe(
      Effect.provide(TaskFeed.layer(config).pipe(Layer.provideMerge(supervisor(tickerLive(ticks, ofB)))))
    )
  })

/** The sequence number of an event id. */
const seqOf = (eventId: string) => Number(eventId.slice(eventId.lastIndexOf("-") + 1))
/** The feed's tag: the part of an event id before its sequence number. */
const tagOf = (eventId: string) => eventId.slice(0, eventId.lastIndexOf("-"))

/** The sequence number of the feed's last change. */
const lastSeq = Effect.gen(function*() {
  const feed = yield* TaskFeed.TaskFeed
  return seqOf((yield* feed.stats).lastEventId)
})

/** Sends `n` ticks (one change each) and lets the feed take them in. */
const tick = (ticks: Queue.Queue<number>, n: number, from = 1) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Queue.offer(ticks, from + i)
    yield* settle
  })

/** Starts a ticker task and lets the feed see it run. */
const startTicker = (name: string) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const handle = yield* tasks.submit(Ticker, { name })
    yield* settle
    return handle
  })

/** A stream's pull whose first pull has begun now, so that the stream has subscribed before this returns. */
const pullNow = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(stream)
    let first: Fiber.Fiber<ReadonlyArray<A>, E | Cause.Done> | undefined = yield* Effect.forkScoped(pull, { startImmediately: true })
    return Effect.suspend(() => {
      if (first === undefined) return pull
      const fiber = first
      first = undefined
      return Fiber.join(fiber)
    })
  })

/** An all-tasks subscription's pull, subscribed now (in the test's scope). */
const subscribe = (options: Partial<TaskFeed.AllOptions> = {}) =>
  Effect.gen(function*() {
    const feed = yield* TaskFeed.TaskFeed
    return yield* pullNow(feed.all({ visible: () => true, ...options }))
  })

/** Pulls once: the items of the next batch, or the failure. */
const pullOnce = <E>(pull: Effect.Effect<ReadonlyArray<TaskFeed.Change | TaskFeed.Gap>, E | Cause.Done>) =>
  Effect.exit(pull)

/** Pulls until `n` items have come. */
const take = <A, E>(pull: Effect.Effect<ReadonlyArray<A>, E>, n: number) =>
  Effect.gen(function*() {
    const items: Array<A> = []
    while (items.length < n) items.push(...(yield* pull))
    return items
  })

const seqs = (items: ReadonlyArray<TaskFeed.Change | TaskFeed.Gap>) =>
  items.map((item) => (item._tag === "Change" ? item.seq : item.reason))

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe("TaskFeed: event ids and resuming", () => {
  it.effect("event ids are the feed's tag and a sequence growing by one per change; resuming replays exactly what followed", () =>
    withFeed({}, (ticks) =>
      Effect.gen(function*() {
        const before = yield* lastSeq
        const live = yield* subscribe()
        yield* startTicker("a")
        yield* tick(ticks, 12)
        const last = yield* lastSeq
        assert.isAtLeast(last - before, 12)
        const items = yield* take(live, last - before)
        assert.deepStrictEqual(seqs(items), range(before + 1, last))
        const changes = items as ReadonlyArray<TaskFeed.Change>
        const tag = tagOf(changes[0].eventId)
        assert.match(tag, /^[0-9a-z]{6}$/)
        for (const change of changes) assert.strictEqual(change.eventId, `${tag}-${change.seq}`)
        assert.deepStrictEqual(changes.slice(-12).map((change) => change.info.progress), range(1, 12))

        // after any id it gave: exactly the changes that followed, in order (ids past 9: more than one digit)
        for (const after of [before, before + 1, last - 11, last - 1]) {
          const resumed = yield* subscribe({ after: `${tag}-${after}` })
          assert.deepStrictEqual(seqs(yield* take(resumed, last - after)), range(after + 1, last))
        }
        // after the last: nothing replayed; the next change is the first item
        const current = yield* subscribe({ after: `${tag}-${last}` })
        yield* tick(ticks, 1, 13)
        const next = yield* pullOnce(current)
        assert.deepStrictEqual(Exit.map(next, seqs), Exit.succeed([last + 1]))
      })))

  it.effect("an id that is not one of this feed's, or not given yet, starts the stream with an unknown gap, then live changes", () =>
    withFeed({}, (ticks) =>
      Effect.gen(function*() {
        yield* startTicker("a")
        const last = yield* lastSeq
        const tag = tagOf((yield* (yield* TaskFeed.TaskFeed).stats).lastEventId)
        const otherTag = tag.replace(/^./, (c) => (c === "z" ? "y" : "z"))
        const unknown = [
          `${tag}-${last + 1}`,
          `${otherTag}-${last}`,
          `x${tag}-${last}`,
          `${tag}-${last}x`,
          `${tag}-`,
          `${tag}--1`,
          `-${last}`,
          "garbled",
          `/${tag}-${last}`,
          `${tag}-${last}/`,
          ""
        ]
        const pulls = []
        for (const after of unknown) pulls.push(yield* subscribe({ after }))
        yield* tick(ticks, 1)
        for (const [i, pull] of pulls.entries()) {
          const first = yield* pull
          assert.strictEqual(first.length, 1)
          const gap = first[0] as TaskFeed.Gap
          assert.strictEqual(gap._tag, "Gap", unknown[i])
          assert.deepStrictEqual([gap.reason, gap.after], ["unknown", unknown[i]])
          // then the changes from the subscription on
          assert.deepStrictEqual(seqs(yield* pull), [last + 1])
        }
        // another feed (another process's) has a tag of its own: this feed's ids are unknown to it
        const other = yield* TaskFeed.make()
        const otherStats = yield* other.stats
        assert.notStrictEqual(tagOf(otherStats.lastEventId), tag)
        const foreign = yield* Stream.toPull(other.all({ visible: () => true, after: `${tag}-${last}` }))
        assert.deepStrictEqual(((yield* foreign)[0] as TaskFeed.Gap).reason, "unknown")
      })))

  it.effect("an id whose successor the ring no longer holds starts with an expired gap; one change later it still replays", () =>
    withFeed({ replay: 8, subscriberBuffer: 4 }, (ticks) =>
      Effect.gen(function*() {
        yield* startTicker("a")
        yield* tick(ticks, 10)
        const last = yield* lastSeq
        const tag = tagOf((yield* (yield* TaskFeed.TaskFeed).stats).lastEventId)
        const expired = yield* subscribe({ after: `${tag}-${last - 8}` })
        const gap = (yield* expired)[0] as TaskFeed.Gap
        assert.deepStrictEqual([gap._tag, gap.reason, gap.after], ["Gap", "expired", `${tag}-${last - 8}`])
        // the oldest id still resumable: the 7 changes after it, oldest first, each with its own record
        const oldest = yield* subscribe({ after: `${tag}-${last - 7}` })
        const replayed = (yield* take(oldest, 7)) as ReadonlyArray<TaskFeed.Change>
        assert.deepStrictEqual(seqs(replayed), range(last - 6, last))
        assert.deepStrictEqual(replayed.map((change) => change.info.progress), range(4, 10))
      })))
})

describe("TaskFeed: slow subscribers", () => {
  it.effect("an all-tasks subscriber may fall exactly subscriberBuffer changes behind; one more drops it, naming where to resume", () =>
    withFeed({ subscriberBuffer: 5, replay: 64 }, (ticks) =>
      Effect.gen(function*() {
        const feed = yield* TaskFeed.TaskFeed
        yield* startTicker("a")
        const start = yield* lastSeq
        const slow = yield* subscribe()
        assert.strictEqual((yield* feed.stats).all, 1)
        yield* tick(ticks, 5)
        const read = yield* take(slow, 5)
        assert.deepStrictEqual(seqs(read), range(start + 1, start + 5))
        yield* tick(ticks, 6, 6)
        const dropped = yield* pullOnce(slow)
        assert.isTrue(Exit.isFailure(dropped))
        const error = Cause.squash((dropped as Exit.Failure<unknown, unknown>).cause) as TaskFeed.SubscriberDropped
        assert.instanceOf(error, TaskFeed.SubscriberDropped)
        const lastRead = (read[4] as TaskFeed.Change).eventId
        assert.deepStrictEqual([error.reason, error.limit, error.lastEventId], ["slow-consumer", 5, lastRead])
        assert.strictEqual(error.message, `dropped: 5 changes were waiting for this subscriber; resume after "${lastRead}"`)
        const stats = yield* feed.stats
        assert.deepStrictEqual([stats.all, stats.dropped], [0, 1])
        // resuming after the last change it read replays the six it missed
        const again = yield* subscribe({ after: lastRead })
        assert.deepStrictEqual(seqs(yield* take(again, 6)), range(start + 6, start + 11))
      })))

  it.effect("a subscriber resuming from far back catches up in batches, not dropped for the lag it started with", () =>
    withFeed({ subscriberBuffer: 40, replay: 1000 }, (ticks) =>
      Effect.gen(function*() {
        const feed = yield* TaskFeed.TaskFeed
        yield* startTicker("a")
        yield* tick(ticks, 300)
        const last = yield* lastSeq
        const tag = tagOf((yield* feed.stats).lastEventId)
        // 300 behind: the first pull hands out at most 256, and 44 are still unread
        const behind = yield* subscribe({ after: `${tag}-${last - 300}` })
        const first = yield* behind
        assert.strictEqual(first.length, 256)
        yield* tick(ticks, 1, 301)
        assert.strictEqual((yield* feed.stats).dropped, 0)
        assert.deepStrictEqual(seqs(yield* take(behind, 45)), range(last - 43, last + 1))
      })))

  it.effect("a subscriber is dropped before the ring overwrites a change it has not read, whatever its buffer", () =>
    withFeed({ subscriberBuffer: 1000, replay: 300 }, (ticks) =>
      Effect.gen(function*() {
        const feed = yield* TaskFeed.TaskFeed
        yield* startTicker("a")
        yield* tick(ticks, 300)
        const last = yield* lastSeq
        const tag = tagOf((yield* feed.stats).lastEventId)
        const behind = yield* subscribe({ after: `${tag}-${last - 299}` })
        const first = yield* behind
        assert.strictEqual(first.length, 256)
        // its next unread change is the oldest the ring holds once 256 more have come: one more would overwrite it
        const cursor = last - 299 + 256
        yield* tick(ticks, 256, 301)
        assert.strictEqual((yield* feed.stats).dropped, 0)
        yield* tick(ticks, 1, 557)
        assert.strictEqual((yield* feed.stats).dropped, 1)
        const dropped = yield* pullOnce(behind)
        const error = Cause.squash((dropped as Exit.Failure<unknown, unknown>).cause) as TaskFeed.SubscriberDropped
        assert.instanceOf(error, TaskFeed.SubscriberDropped)
        assert.strictEqual(error.lastEventId, `${tag}-${cursor}`)
      })))

  it.effect("one that reads as it goes is never dropped, however far the feed goes past its buffer and its ring", () =>
    withFeed({ subscriberBuffer: 2, replay: 4 }, (ticks) =>
      Effect.gen(function*() {
        const feed = yield* TaskFeed.TaskFeed
        yield* startTicker("a")
        const reader = yield* subscribe()
        for (let i = 0; i < 20; i++) {
          yield* tick(ticks, 1, 1 + i)
          assert.deepStrictEqual(((yield* reader) as ReadonlyArray<TaskFeed.Change>).map((change) => change.info.progress), [1 + i])
        }
        assert.strictEqual((yield* feed.stats).dropped, 0)
      })))

  it.effect("a subscriber whose stream has ended no longer counts, and is never dropped", () =>
    withFeed({ subscriberBuffer: 2 }, (ticks) =>
      Effect.gen(function*() {
        const feed = yield* TaskFeed.TaskFeed
        yield* startTicker("a")
        const scope = yield* Scope.make()
        const pull = yield* pullNow(feed.all({ visible: () => true })).pipe(Scope.provide(scope))
        yield* tick(ticks, 1)
        assert.strictEqual((yield* pull).length, 1)
        assert.strictEqual((yield* feed.stats).all, 1)
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual((yield* feed.stats).all, 0)
        yield* tick(ticks, 5, 2)
        assert.deepStrictEqual([(yield* feed.stats).all, (yield* feed.stats).dropped], [0, 0])
      })))

  it.effect("only the changes a subscriber may see are delivered, though every change counts toward its lag", () =>
    withFeed({ subscriberBuffer: 3 }, (ticks, ofB) =>
      Effect.gen(function*() {
        const a = yield* startTicker("a")
        yield* startTicker("b")
        const mine = yield* subscribe({ visible: (info) => info.id === a.id })
        yield* tick(ofB, 2)
        yield* tick(ticks, 2)
        assert.deepStrictEqual(((yield* take(mine, 2)) as ReadonlyArray<TaskFeed.Change>).map((change) => [change.info.id, change.info.progress]), [[a.id, 1], [a.id, 2]])
        // one change it may see, after four it may not, while it does not read: it is dropped
        yield* tick(ofB, 4, 3)
        yield* tick(ticks, 1, 3)
        assert.isTrue(Exit.isFailure(yield* pullOnce(mine)))
      })))
})

describe("TaskFeed: task streams", () => {
  it.effect("a task stream starts with the latest record, keeps the latest taskBuffer records for a slow reader, and ends after the terminal one", () =>
    withFeed({ taskBuffer: 2 }, (ticks) =>
      Effect.gen(function*() {
        const feed = yield* TaskFeed.TaskFeed
        const handle = yield* startTicker("a")
        yield* tick(ticks, 3)
        const lastOfA = (yield* feed.stats).lastEventId
        // other tasks' changes since: the feed's last event id is no longer the task's
        yield* startTicker("b")
        const pull = yield* Stream.toPull(feed.watch(handle.id))
        const first = yield* pull
        assert.deepStrictEqual(first.map((change) => change.info.progress), [3])
        // the change the feed carried last for the task, with its event id
        assert.strictEqual(first[0].eventId, lastOfA)
        assert.strictEqual((yield* feed.stats).task, 1)
        yield* tick(ticks, 5, 4)
        assert.deepStrictEqual((yield* pull).map((change) => change.info.progress), [7, 8])
        yield* Queue.offer(ticks, -1)
        yield* settle
        const last = yield* pull
        assert.deepStrictEqual(last.map((change) => change.info.status), ["completed"])
        assert.isTrue(Exit.isFailure(yield* Effect.exit(pull)), "the stream ends after the terminal record")
      })))

  it.effect("each of several streams of one task gets every change; a closed one stops counting", () =>
    withFeed({}, (ticks) =>
      Effect.gen(function*() {
        const feed = yield* TaskFeed.TaskFeed
        const handle = yield* startTicker("a")
        const scope = yield* Scope.make()
        const first = yield* Stream.toPull(feed.watch(handle.id)).pipe(Scope.provide(scope))
        const second = yield* Stream.toPull(feed.watch(handle.id))
        assert.strictEqual((yield* feed.stats).task, 2)
        yield* tick(ticks, 1)
        assert.deepStrictEqual((yield* take(first, 2)).map((change) => change.info.progress), [0, 1])
        assert.deepStrictEqual((yield* take(second, 2)).map((change) => change.info.progress), [0, 1])
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual((yield* feed.stats).task, 1)
        yield* tick(ticks, 1, 2)
        assert.deepStrictEqual((yield* second).map((change) => change.info.progress), [2])
      })))

  it.effect("a task stream of a missing task fails with TaskNotFound; one of a deleted task too, after the deletion's change", () =>
    withFeed({}, (ticks) =>
      Effect.gen(function*() {
        const feed = yield* TaskFeed.TaskFeed
        const tasks = yield* Tasks.Tasks
        const missing = yield* Effect.flip(Stream.runCollect(feed.watch("01a00000-0000-7000-8000-000000000000")))
        assert.strictEqual(missing._tag, "TaskNotFound")
        const handle = yield* startTicker("a")
        const all = yield* subscribe()
        yield* Queue.offer(ticks, -1)
        yield* settle
        const done = yield* Stream.runCollect(feed.watch(handle.id))
        assert.deepStrictEqual(done.map((change) => change.info.status), ["completed"])
        yield* tasks.delete(handle.id)
        yield* settle
        const changes = (yield* take(all, 2)) as ReadonlyArray<TaskFeed.Change>
        assert.deepStrictEqual(changes.map((change) => [change.info.status, change.deleted]), [["completed", false], ["completed", true]])
        const gone = yield* Effect.flip(Stream.runCollect(feed.watch(handle.id)))
        assert.strictEqual(gone._tag, "TaskNotFound")
      })))

  it.effect("a stream given the record its caller has just read starts with it, without reading it again", () =>
    withFeed({}, () =>
      Effect.gen(function*() {
        const feed = yield* TaskFeed.TaskFeed
        const handle = yield* startTicker("a")
        const read = yield* handle.info
        // a record no longer in the store: only the one given can start the stream
        const id = "01a00000-0000-7000-8000-00000000000f"
        const known = { ...read, id, status: "completed" as const, message: "as the caller read it" }
        const records = yield* Stream.runCollect(feed.watch(id, known))
        assert.deepStrictEqual(records.map((change) => [change.info.id, change.info.message]), [[id, "as the caller read it"]])
      })))
})

describe("TaskFeed: frames and shutdown", () => {
  it.effect("a change's server-sent frame carries its id, its event (message, or deleted) and the encoded record", () =>
    withFeed({}, (ticks) =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const handle = yield* startTicker("a")
        const all = yield* subscribe()
        yield* Queue.offer(ticks, -1)
        yield* settle
        yield* tasks.delete(handle.id)
        yield* settle
        const [finished, deleted] = (yield* take(all, 2)) as ReadonlyArray<TaskFeed.Change>
        const encode = Schema.encodeSync(Schema.toCodecJson(TaskInfo.TaskInfo))
        const decoder = new TextDecoder()
        for (const [change, event] of [[finished, "message"], [deleted, "deleted"]] as const) {
          const frame = decoder.decode(change.sse)
          assert.strictEqual(frame, `id: ${change.eventId}\nevent: ${event}\ndata: ${JSON.stringify(encode(change.info))}\n\n`)
          assert.strictEqual(change.sseText, frame, "its text kept")
        }
        assert.strictEqual(new TaskFeed.Change(1, "t-1", finished.info).deleted, false)
      })))

  it.effect("when the supervisor shuts down, open streams end and new ones end at once, a waiting task's after its record", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      const ticks = yield* Queue.unbounded<number>()
      const { scope, tasks } = yield* startOn(memory, tickerLive(ticks), { shutdownGracePeriod: 0, maxWorkers: 1 })
      const feedScope = yield* Scope.make()
      const feed = yield* TaskFeed.make().pipe(Effect.provideService(Tasks.Tasks, tasks), Scope.provide(feedScope))
      const running = yield* tasks.submit(Ticker, { name: "a" })
      // one worker: the second waits, and stays pending in the store for the next process
      const waiting = yield* tasks.submit(Ticker, { name: "a" })
      yield* settle
      const follow = <A, E>(stream: Stream.Stream<A, E>) => Effect.forkChild(Stream.runCollect(stream), { startImmediately: true })
      const all = yield* follow(feed.all({ visible: () => true }))
      const watchRunning = yield* follow(feed.watch(running.id))
      const watchWaiting = yield* follow(feed.watch(waiting.id))
      yield* settle
      yield* Scope.close(scope, Exit.void)
      yield* settle
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(all)))
      const statuses = (changes: ReadonlyArray<TaskFeed.Change>) => changes.map((change) => change.info.status)
      assert.strictEqual(statuses(yield* Fiber.join(watchRunning)).at(-1), "interrupted")
      assert.deepStrictEqual(statuses(yield* Fiber.join(watchWaiting)), ["pending"])
      // opened after the shutdown
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(Stream.runCollect(feed.all({ visible: () => true })))))
      assert.deepStrictEqual(statuses(yield* Stream.runCollect(feed.watch(running.id))), ["interrupted"])
      assert.deepStrictEqual(statuses(yield* Stream.runCollect(feed.watch(waiting.id))), ["pending"])
      yield* Scope.close(feedScope, Exit.void)
    }))
})

