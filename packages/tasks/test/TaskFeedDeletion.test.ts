/**
 * A task's deletion ends its task streams (`TaskFeed.listen` / `watch`):
 * nothing more of the task comes. Its terminal record may not have come
 * first — a cluster runner that deletes a task running on another hears its
 * own deletion at once, and the interruption's record after it is no news
 * there (`ClusterFeed`) — and a record under the id after the deletion is
 * another task's, submitted again under a caller-chosen id: a stream of the
 * deleted task must not follow it. The feed here takes its changes from a
 * queue the test fills (one batch per offer), over a real supervisor.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Queue, Stream } from "effect"
import type * as TaskEvent from "../src/TaskEvent.ts"
import * as TaskFeed from "../src/TaskFeed.ts"
import type * as TaskInfo from "../src/TaskInfo.ts"
import * as Tasks from "../src/Tasks.ts"
import { settle, supervisor } from "./fixtures.ts"
import { record } from "./TaskStoreConformance.ts"

/** A feed over a supervisor whose changes are what the test offers to the queue returned, each offer one batch. */
const queuedFeedWith = (options: Partial<TaskFeed.TaskFeedConfig>, get?: Tasks.Tasks["Service"]["get"]) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(supervisor(Layer.empty))
    const queue = yield* Queue.unbounded<TaskInfo.TaskInfo | TaskEvent.Deleted>()
    const supervised = Context.get(context, Tasks.Tasks)
    const tasks = Tasks.Tasks.of({ ...supervised, get: get ?? supervised.get, changesAndDeletions: Stream.fromQueue(queue) })
    const feed = yield* TaskFeed.make(options).pipe(Effect.provideService(Tasks.Tasks, tasks))
    return { feed, queue }
  })
const queuedFeed = queuedFeedWith({})

/** A listener's records (status and progress) and whether it ended. */
const listener = () => {
  const heard: Array<string> = []
  const state = { ended: false }
  const listen: TaskFeed.TaskListener = {
    change: (change) => void heard.push(`${change.info.status} ${change.info.progress} ${change.info.owner}`),
    end: () => void (state.ended = true)
  }
  return { heard, listen, state }
}

/** A feed, alice's running task (at 10%) and `count` listeners of it, each begun from that record. */
const listening = (count: number) =>
  Effect.gen(function*() {
    const { feed, queue } = yield* queuedFeed
    const running = record({ status: "running", progress: 10, owner: "alice", createdAt: 1_000 })
    const listeners = Array.from({ length: count }, listener)
    for (const one of listeners) yield* feed.listen(running.id, one.listen, running)
    return { feed, listeners, queue, running }
  })

describe("TaskFeed, a task's deletion", () => {
  it.effect("ends its task streams, though its terminal record never came; a task under its id after it is not followed", () =>
    Effect.gen(function*() {
      const { feed, listeners: [one], queue, running } = yield* listening(1)
      yield* Queue.offerAll(queue, [{ ...running, progress: 20 }])
      yield* settle
      yield* Queue.offerAll(queue, [{ _tag: "Deleted", info: { ...running, progress: 20 } }])
      yield* settle
      assert.isTrue(one.state.ended, "the stream of a deleted task did not end")
      // the id used again: another principal's task, which the deleted task's stream must not hear
      yield* Queue.offerAll(queue, [record({ id: running.id, status: "pending", owner: "bob", createdAt: 2_000 })])
      yield* settle
      assert.deepStrictEqual(one.heard, ["running 10 alice", "running 20 alice"])
      assert.strictEqual((yield* feed.stats).task, 0, "a task stream still counted")
    }).pipe(Effect.scoped))

  it.effect("in the same batch as the task's next records under the id: the stream ends at the deletion", () =>
    Effect.gen(function*() {
      const { listeners: [one], queue, running } = yield* listening(1)
      yield* Queue.offerAll(queue, [
        { _tag: "Deleted", info: running },
        record({ id: running.id, status: "pending", owner: "bob", createdAt: 2_000 })
      ])
      yield* settle
      assert.isTrue(one.state.ended)
      assert.deepStrictEqual(one.heard, ["running 10 alice"])
    }).pipe(Effect.scoped))

  it.effect("in a batch past a slice (latest-wins): each stream of the deleted task hears its last record before the deletion, not the next task's", () =>
    Effect.gen(function*() {
      // a third of a slice and one listeners, three records of the id in the batch: past a slice of deliveries
      const { listeners, queue, running } = yield* listening((TaskFeed.deliverySlice + 1) / 3)
      const completed = { ...running, status: "completed" as const, progress: 100, finishedAt: 1_500 }
      yield* Queue.offerAll(queue, [
        { ...running, progress: 20 },
        completed,
        { _tag: "Deleted", info: completed },
        record({ id: running.id, status: "pending", owner: "bob", createdAt: 2_000 })
      ])
      yield* settle
      listeners.forEach((one, i) => {
        assert.deepStrictEqual(one.heard, ["running 10 alice", "completed 100 alice"], `listener ${i}`)
        assert.isTrue(one.state.ended, `listener ${i} ended`)
      })
    }).pipe(Effect.scoped))
})

describe("TaskFeed, a task stream opened after the deletion, from a record read before it", () => {
  /** A feed that has published alice's task (at 10%) and then its deletion (`then`: records after it). */
  const deletedBefore = (then: ReadonlyArray<TaskInfo.TaskInfo>) =>
    Effect.gen(function*() {
      const { feed, queue } = yield* queuedFeed
      const running = record({ status: "running", progress: 10, owner: "alice", createdAt: 1_000 })
      yield* Queue.offerAll(queue, [running])
      yield* settle
      yield* Queue.offerAll(queue, [{ _tag: "Deleted", info: running }])
      yield* settle
      if (then.length > 0) {
        yield* Queue.offerAll(queue, then.map((info) => ({ ...info, id: running.id })))
        yield* settle
      }
      return { feed, queue, running }
    })

  it.effect("starts with that record and ends at once: nothing more of the task comes", () =>
    Effect.gen(function*() {
      const { feed, running } = yield* deletedBefore([])
      const one = listener()
      yield* feed.listen(running.id, one.listen, running)
      assert.deepStrictEqual(one.heard, ["running 10 alice"])
      assert.isTrue(one.state.ended, "the stream of a task deleted before it opened waits")
      const now = listener()
      feed.listenNow(running.id, now.listen, running)
      assert.deepStrictEqual(now.heard, ["running 10 alice"])
      assert.isTrue(now.state.ended, "listenNow: the stream of a task deleted before it opened waits")
      assert.strictEqual((yield* feed.stats).task, 0, "a task stream still counted")
    }).pipe(Effect.scoped))

  it.effect("the id used again by another principal: the stream neither starts with nor follows the new task", () =>
    Effect.gen(function*() {
      const bobs = record({ status: "running", progress: 5, owner: "bob", createdAt: 2_000 })
      const { feed, queue, running } = yield* deletedBefore([bobs])
      const one = listener()
      yield* feed.listen(running.id, one.listen, running)
      yield* Queue.offerAll(queue, [{ ...bobs, id: running.id, progress: 50 }])
      yield* settle
      assert.deepStrictEqual(one.heard, ["running 10 alice"])
      assert.isTrue(one.state.ended)
    }).pipe(Effect.scoped))

  it.effect("its deletion gone from the ring: a record of a later task under the id ends the stream, unheard", () =>
    Effect.gen(function*() {
      const { feed, queue } = yield* queuedFeedWith({ replay: 4 })
      const running = record({ status: "running", progress: 10, owner: "alice", createdAt: 1_000 })
      yield* Queue.offerAll(queue, [running, { _tag: "Deleted", info: running }])
      yield* settle
      yield* Queue.offerAll(queue, Array.from({ length: 4 }, () => record({ status: "pending" })))
      yield* settle
      const one = listener()
      yield* feed.listen(running.id, one.listen, running)
      assert.isFalse(one.state.ended, "nothing tells this feed of the deletion any more")
      yield* Queue.offerAll(queue, [record({ id: running.id, status: "running", progress: 5, owner: "bob", createdAt: 2_000 })])
      yield* settle
      assert.deepStrictEqual(one.heard, ["running 10 alice"])
      assert.isTrue(one.state.ended, "a stream of a deleted task followed on past a later task's record")
    }).pipe(Effect.scoped))

  it.effect("a deletion heard while a stream begun with no record reads the task ends it", () =>
    Effect.gen(function*() {
      const read = yield* Deferred.make<TaskInfo.TaskInfo>()
      const { feed, queue } = yield* queuedFeedWith({}, () => Deferred.await(read))
      const running = record({ status: "running", progress: 10, owner: "alice", createdAt: 1_000 })
      const one = listener()
      const listening = yield* Effect.forkChild(feed.listen(running.id, one.listen))
      yield* settle
      yield* Queue.offerAll(queue, [{ _tag: "Deleted", info: running }])
      yield* settle
      yield* Deferred.succeed(read, running)
      yield* Fiber.join(listening)
      assert.deepStrictEqual(one.heard, [])
      assert.isTrue(one.state.ended, "a stream reading its task when the task was deleted waits")
    }).pipe(Effect.scoped))

  it.effect("a stream of the new task, opened while the feed still holds the deleted one: only the new task's records", () =>
    Effect.gen(function*() {
      const { feed, queue } = yield* queuedFeed
      const alices = record({ status: "running", progress: 10, owner: "alice", createdAt: 1_000 })
      yield* Queue.offerAll(queue, [alices])
      yield* settle
      // bob's record read from the store: alice's task deleted and bob's submitted under its id, not yet heard here
      const bobs = record({ id: alices.id, status: "pending", progress: 0, owner: "bob", createdAt: 2_000 })
      const one = listener()
      yield* feed.listen(alices.id, one.listen, bobs)
      yield* Queue.offerAll(queue, [{ ...alices, progress: 20 }, { _tag: "Deleted", info: { ...alices, progress: 20 } }])
      yield* settle
      assert.isFalse(one.state.ended, "the deletion of the task before it ended a stream of the one after it")
      yield* Queue.offerAll(queue, [{ ...bobs, status: "running", progress: 30 }])
      yield* settle
      assert.deepStrictEqual(one.heard, ["pending 0 bob", "running 30 bob"])
    }).pipe(Effect.scoped))
})
