/**
 * A wait for a task's final record whose first read found the task running
 * on this very runner wants nothing of the others (its final record comes
 * from this runner's own supervisor) — until the supervisor lets the task go
 * unfinished (handed over, its shard moving: its record back to pending).
 * From then on the wait wants the final record of whichever runner adopts
 * it, and gets it from that runner's notification, not from a read again.
 * Two runners' feeds in the test process on the real PostgreSQL
 * (`FeedRunners.ts`), waits read again only after an hour.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option } from "effect"
import { Echo, twoRunners } from "./FeedRunners.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("a wait on a task handed over from its own runner", () => {
  it.live("wants its final record from the runner that adopts it once its own supervisor lets it go", () =>
    Effect.gen(function*() {
      const { a, b, read } = yield* twoRunners()
      const task = yield* a.local.submit(Echo, { text: "moved", gate: "m" })
      // running on a: a's wait reads it there and wants nothing of b
      let running = yield* read(task.id)
      while (running.status !== "running") running = yield* read(task.id)
      assert.strictEqual(running.runner, a.origin)
      const firstRead = yield* Deferred.make<void>()
      const waiting = yield* Effect.forkScoped(a.feed.finalRecord(task.id, Effect.tap(read(task.id), () => Deferred.succeed(firstRead, undefined))))
      yield* Deferred.await(firstRead)
      // its shard moves: a lets it go (stored pending), b adopts it and ends it
      yield* a.local.handOff(task.id)
      yield* Effect.orDie(b.local.adopt(task.id))
      yield* b.open("m")
      const heard = Option.getOrThrow(yield* Fiber.join(waiting))
      assert.deepStrictEqual([heard.status, heard.runner], ["completed", b.origin])
    }).pipe(Effect.scoped), 60_000)
})
