/**
 * A final record its runner kept (nobody wanted it when the task ended) is
 * dropped once the task is deleted, whichever runner deleted it: a want of it
 * arriving later gets nothing sent (`ClusterFeed`; the deletion has gone to
 * every runner, and a final record after it would tell a deleted task as
 * finished to a runner that no longer remembers the deletion). Two runners'
 * feeds in the test process on the real PostgreSQL (`FeedRunners.ts`): b
 * deletes a task a ran, then waits for it; a sends nothing of it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { collecting, Echo, eventually, twoRunners } from "./FeedRunners.ts"
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
})
