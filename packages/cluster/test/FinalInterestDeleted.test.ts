/**
 * A final record its runner kept (nobody wanted it when the task ended) is
 * dropped once the task is deleted, whichever runner deleted it: a want of it
 * arriving later gets nothing sent (`ClusterFeed`; the deletion has gone to
 * every runner, and a final record after it would tell a deleted task as
 * finished to a runner that no longer remembers the deletion). Two runners'
 * feeds in the test process on the real PostgreSQL (`FeedRunners.ts`): b
 * deletes a task a ran, then waits for it; a sends nothing of it. A task
 * submitted again under a deleted task's (caller-chosen) id is a new task:
 * b's followers hear its records and its deletion. A task stream on b of a
 * task b deletes ends at the deletion, the interrupted record heard or not.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { TaskInfo } from "@chainjobs/tasks"
import { collecting, Echo, eventually, serviceFeed, twoRunners } from "./FeedRunners.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("a kept final record and a deletion elsewhere", () => {
  it.live("a task a ran and b deleted: b's later want of it gets nothing from a", () =>
    Effect.gen(function*() {
      const { a, aSettled, b, cluster, heard, read, sentOf, waitOnB } = yield* twoRunners()
      const task = yield* a.local.submit(Echo, { text: "deleted", gate: "t" })
      const stale = yield* read(task.id)
      yield* a.open("t")
      const final = yield* Effect.orDie(a.local.awaitInfo(task.id))
      yield* aSettled
      assert.deepStrictEqual(sentOf(a, task.id), [], "sent before anybody wanted it")

      // b deletes it (as its service does: the store's record, then the feed), and a hears of it
      assert.isTrue(yield* Effect.orDie(cluster.store.remove(task.id)))
      yield* b.feed.deleted(final)
      const deletionHeard = () =>
        heard.some((notification) =>
          notification.from === b.origin && notification.what === "c" &&
          (JSON.parse(notification.body) as ReadonlyArray<{ readonly d?: { readonly id: string } }>).some((item) => item.d?.id === task.id)
        )
      yield* eventually(deletionHeard, () => "b's deletion not sent")

      // b then waits for it (its first read the record as it stood before): a has nothing to send
      const waiting = yield* waitOnB(task.id, Effect.succeed(stale))
      yield* aSettled
      assert.deepStrictEqual(sentOf(a, task.id), [], "a sent the final record of a task deleted since")
      yield* Fiber.interrupt(waiting)
      assert.isTrue(Option.isNone(yield* Effect.orDie(cluster.store.get(task.id))))
    }).pipe(Effect.scoped), 60_000)

  it.live("a wait on b for a task of a's, still running, ends with nothing once the task is deleted", () =>
    Effect.gen(function*() {
      const { a, b, cluster, read, waitOnB } = yield* twoRunners()
      const task = yield* a.local.submit(Echo, { text: "deleted running", gate: "never" })
      const waiting = yield* waitOnB(task.id)
      const journal = yield* collecting(b.feed.changesAndDeletions)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      // b deletes it (as its service does: the store's record, then the feed): the wait hears the deletion, no record
      const running = yield* read(task.id)
      assert.isTrue(yield* Effect.orDie(cluster.store.remove(task.id)))
      yield* b.feed.deleted(running)
      const ended = yield* Fiber.join(waiting).pipe(
        Effect.timeout("10 seconds"),
        Effect.catchTag("TimeoutError", () => Effect.die(new Error("the wait did not end on the deletion")))
      )
      assert.isTrue(Option.isNone(ended))
      // b's own journal tells the deletion as a `Deleted` event
      yield* eventually(() => journal.seen.some((item) => "_tag" in item && item.info.id === task.id), () => "no deletion in b's journal")
      assert.deepStrictEqual(journal.seen.flatMap((item) => "_tag" in item && item.info.id === task.id ? [item._tag] : []), ["Deleted"])
      yield* a.open("never")
    }).pipe(Effect.scoped), 60_000)

  it.live("a task stream on b (its TaskFeed) of a task a runs ends when b deletes the task, though the interrupted record never reaches b", () =>
    Effect.gen(function*() {
      const { a, b, cluster, read } = yield* twoRunners()
      const feed = yield* serviceFeed(b)
      const task = yield* a.local.submit(Echo, { text: "deleted from b", gate: "never" })
      const watched = yield* collecting(feed.watch(task.id))
      yield* eventually(() => watched.seen.some((change) => change.info.status === "running"), () => "the stream's first record")
      // b deletes it as ClusterTasks.delete does — interrupted where it runs, read, removed, told to b's feed — and
      // a's notification of the interrupted record is lost (as it is no news on b once b told its own deletion)
      yield* a.silence(true)
      yield* Effect.orDie(a.local.interrupt(task.id))
      const interrupted = yield* read(task.id)
      assert.isTrue(yield* Effect.orDie(cluster.store.remove(task.id)))
      yield* b.feed.deleted(interrupted)
      yield* Fiber.join(watched.fiber).pipe(
        Effect.timeout("10 seconds"),
        Effect.catchTag("TimeoutError", () => Effect.die(new Error("the stream of the deleted task did not end")))
      )
      assert.isFalse(watched.seen.some((change) => change.info.status === "interrupted"), "the interrupted record reached b")
    }).pipe(Effect.scoped), 60_000)

  it.live("an id used again after its task's deletion: b hears the new task's records and its deletion, as a new task's", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoRunners()
      // b follows every task (its `TaskFeed`, as a runner's service has it, declaring its interest) and its journal
      const feed = yield* serviceFeed(b)
      const all = yield* collecting(feed.all({ visible: () => true }))
      const journal = yield* collecting(b.feed.changesAndDeletions)
      const id = TaskInfo.makeId(Date.now())
      /** What b's journal told of the id: each record's status and text, and each deletion. */
      const told = () =>
        journal.seen.flatMap((item) => {
          const info = "_tag" in item ? item.info : item
          if (info.id !== id) return []
          return ["_tag" in item ? "Deleted" : `${info.status} ${(info.payload as { readonly text: string }).text}`]
        })
      const completed = (text: string) => () => told().includes(`completed ${text}`)
      yield* Effect.orDie(a.local.awaitInfo((yield* a.local.submit(Echo, { text: "first" }, { id })).id))
      yield* eventually(completed("first"), () => `b told: ${told().join(", ")}`)
      yield* Effect.orDie(a.local.delete(id))
      yield* eventually(() => told().includes("Deleted"), () => `b told: ${told().join(", ")}`)
      // the same id again: a new task (created later), not a late record of the deleted one
      yield* Effect.orDie(a.local.awaitInfo((yield* a.local.submit(Echo, { text: "second" }, { id })).id))
      yield* eventually(completed("second"), () => `b told: ${told().join(", ")}`)
      assert.isTrue(
        all.seen.some((item) => item._tag === "Change" && item.info.id === id && item.info.status === "completed" &&
          (item.info.payload as { readonly text: string }).text === "second"),
        "b's all-tasks stream did not hear the second task completed"
      )
      yield* Effect.orDie(a.local.delete(id))
      yield* eventually(() => told().filter((what) => what === "Deleted").length === 2, () => `b told: ${told().join(", ")}`)
    }).pipe(Effect.scoped), 60_000)

  it.live("an id used again after its task's deletion, on a runner that wants none of its records: b's journal tells both deletions", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoRunners()
      // a direct follower declares nothing: b is sent no record of a's tasks, but every deletion
      const journal = yield* collecting(b.feed.changesAndDeletions)
      const id = TaskInfo.makeId(Date.now())
      const deletions = () => journal.seen.filter((item) => "_tag" in item && item.info.id === id).length
      for (const [text, told] of [["first", 1], ["second", 2]] as const) {
        yield* Effect.orDie(a.local.awaitInfo((yield* a.local.submit(Echo, { text }, { id })).id))
        yield* Effect.orDie(a.local.delete(id))
        // the second deletion is of a task created later: not the first one's heard again
        yield* eventually(() => deletions() === told, () => `b told ${deletions()} deletions after the ${text} task's`)
      }
    }).pipe(Effect.scoped), 60_000)
})
