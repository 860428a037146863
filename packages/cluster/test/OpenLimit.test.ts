/**
 * The bound on tasks a runner knows unfinished on others and follows with
 * nothing (`ClusterFeed.openLimit`): past it, the longest known are
 * forgotten at the next turn of its memory (every `finishedMemoryMillis`; the
 * first as it starts), so they are not read again when their runner leaves.
 * Two runners' feeds in the test process on the real PostgreSQL
 * (`FeedRunners.ts`): five unfinished records of a's (a kind neither
 * registers, so no supervisor takes them up) are in the store when b starts
 * with a bound of two; a leaves (its farewell), and b reads again two of
 * them, not five. b's feed's store counts its reads (the only fake: a counter
 * around the real store). Past the bound, a task a watch or a wait of b's
 * follows is kept, and the longest known of the others go first: b learns
 * six of a's (its reads of them), follows two, turns its memory once with a
 * bound of three, and reads again the two followed and the newest. Both wait
 * for the turns themselves (`memoryTurns`, counted by the runner's clock), on
 * the live clock: a test clock moved 15 s at once also makes b's listener
 * look deaf (nothing heard for longer than `deafAfterMillis` while it sent
 * its counts), and the reads after that loss make known again what the turn
 * forgot.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Scope, Stream } from "effect"
import { ClusterFeed } from "@chainjobs/cluster"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { counting, eventually, freshCluster, makeRunner, pool } from "./FeedRunners.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("tasks known unfinished elsewhere that nothing follows", () => {
  it.live("are kept up to the bound: only that many are read again when their runner leaves", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const aScope = yield* Scope.make()
      yield* Scope.provide(makeRunner("runner-a:1", cluster), aScope)
      const open = Array.from({ length: 5 }, () => record({ kind: "unregistered", status: "running", runner: "runner-a:1" }))
      for (const info of open) yield* Effect.orDie(cluster.store.insert(info))

      // b learns the five as it starts, and keeps two past the first turn of its memory (at once after)
      const reads = new Map<string, number>()
      const b = yield* makeRunner("runner-b:2", cluster, { openLimit: 2, feedStore: counting(reads) })
      yield* eventually(() => b.memoryTurns() >= 1, () => "b's memory never turned")

      // a leaves with a farewell: b reads again the tasks it still knows unfinished on a
      yield* Scope.close(aScope, Exit.void)
      const ids = new Set(open.map((info) => info.id))
      const readAgain = () => [...reads.keys()].filter((id) => ids.has(id))
      yield* eventually(() => readAgain().length >= 2, () => `${readAgain().length} of a's tasks read again`)
      // the reads again start together (8 at a time): by the time two are done, no other is still to start
      yield* Effect.sleep("500 millis")
      assert.strictEqual(readAgain().length, 2, `read again: ${readAgain().length} of 5`)
    }).pipe(Effect.scoped), 60_000)

  it.live("past the bound, those a watch or a wait here follows are kept, and the longest known of the others forgotten first", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const reads = new Map<string, number>()
      const b = yield* makeRunner("runner-b:2", cluster, { openLimit: 3, feedStore: counting(reads) })
      // the first turn of b's memory (at once as it starts) finds nothing known; the next comes `finishedMemoryMillis` after
      yield* eventually(() => b.memoryTurns() >= 1, () => "b's memory never turned as it started")

      // six records of a's, unfinished, read through b's service in order: the first known longest
      const open = Array.from({ length: 6 }, () => record({ kind: "unregistered", status: "running", runner: "runner-a:1" }))
      for (const info of open) {
        yield* Effect.orDie(cluster.store.insert(info))
        yield* b.feed.observed(info)
      }
      const read = (id: string) => Effect.orDie(Effect.map(cluster.store.get(id), (found) => found._tag === "Some" ? found.value : open[0]!))
      // the second watched on b, the third waited for (its first read finds it unfinished on a: b wants its final record)
      const watched = open[1]!.id
      const awaited = open[2]!.id
      // each follows its task before its first read: both have begun once both reads are done
      const watchRead = yield* Deferred.make<void>()
      const watching = yield* Effect.forkScoped(Stream.runDrain(b.feed.watch(watched, Effect.tap(read(watched), () => Deferred.succeed(watchRead, undefined)))))
      const firstRead = yield* Deferred.make<void>()
      const waiting = yield* Effect.forkScoped(b.feed.finalRecord(awaited, Effect.tap(read(awaited), () => Deferred.succeed(firstRead, undefined))))
      yield* Deferred.await(watchRead)
      yield* Deferred.await(firstRead)
      assert.strictEqual(b.memoryTurns(), 1, "b's memory turned again before the six were known and followed")

      // the next turn: six known, three kept — the two followed and the newest
      yield* Effect.gen(function*() {
        while (b.memoryTurns() < 2) yield* Effect.sleep("100 millis")
      }).pipe(
        Effect.timeout(Duration.sum(Duration.millis(ClusterFeed.finishedMemoryMillis), Duration.seconds(30))),
        Effect.catchTag("TimeoutError", () => Effect.die(new Error("never happened: b's memory did not turn again")))
      )

      // a says farewell (a runner b never heard before): b reads again what it still knows unfinished on a
      const notifier = yield* pool(cluster.schema, 1)
      yield* Effect.orDie(notifier.notify(cluster.channel, "runner-a:1\ngfarewell.1.0\n"))
      const ids = new Set(open.map((info) => info.id))
      const readAgain = () => [...reads.keys()].filter((id) => ids.has(id))
      yield* eventually(() => readAgain().length >= 2, () => `read again: ${readAgain().join(", ")}`)
      // the reads again start together (8 at a time): by the time two are done, no other is still to start
      yield* Effect.sleep("500 millis")
      assert.deepStrictEqual(new Set(readAgain()), new Set([watched, awaited, open[5]!.id]))
      yield* Fiber.interrupt(watching)
      yield* Fiber.interrupt(waiting)
    }).pipe(Effect.scoped), 90_000)
})
