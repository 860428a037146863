/**
 * What one runner's feed delivers of another's (`ClusterFeed`; its loss and
 * outage cases are in `ClusterFeed.test.ts`, its final records by interest in
 * `FinalInterest.test.ts`). Two runners' task-change feeds in the test
 * process, on the real PostgreSQL (`FeedRunners.ts`: one fresh schema and
 * channel per test, one task store both runners share): what each runner hears of the other's tasks — every change, in
 * order and named for its runner, packed into notifications PostgreSQL
 * accepts, a record too large for one read back from the store; deletions;
 * the re-read after the listener's connection broke; the counts of every
 * runner added up, a farewell's and stale ones left out; a finished record
 * told once, though a re-read after an outage reads it again.
 *
 * The faults injected are a runner's `NOTIFY` switched off (`silence`),
 * which stands for notifications lost while the other's listener is down or
 * for a runner that stopped without a farewell, and its notifications of what
 * its followers want lost (`loseWants`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, Queue, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { TaskEvent, TaskInfo } from "@chainjobs/tasks"
import { collecting, Echo, eventually, freshCluster, makeRunner, pool, Ticking, wantingAll } from "./FeedRunners.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

const statusRank: Record<TaskInfo.TaskStatus, number> = { pending: 0, running: 1, completed: 2, failed: 2, interrupted: 2 }

/** Text of `length` characters mixing one-, two-, three- and four-byte UTF-8 characters. */
const mixedText = (length: number, seed: number) => {
  const alphabet = ["a", "é", "€", "😀", "\"", "\\", "\n"]
  let text = ""
  for (let i = 0; text.length < length; i++) text += alphabet[(seed + i) % alphabet.length]
  return text.slice(0, length).toWellFormed()
}

describe.skipIf(pgTestUrl === undefined)("ClusterFeed delivery", () => {
  it.live("a task's changes on one runner reach the other's changes, journal and watch, in order and named for their runner", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const a = yield* makeRunner("runner-a:1", cluster)
      const b = yield* makeRunner("runner-b:2", cluster)
      yield* wantingAll(a, b)
      const changes = yield* collecting(a.feed.changes)
      const journal = yield* collecting(a.feed.changesAndDeletions)
      const ownChanges = yield* collecting(b.feed.changes)

      const handle = yield* b.local.submit(Echo, { text: "hello", gate: "g1" })
      yield* eventually(() => changes.seen.some((info) => info.status === "running"), () => JSON.stringify(changes.seen))
      const watched = yield* collecting(a.feed.watch(handle.id, Effect.orDie(cluster.store.get(handle.id)).pipe(
        Effect.map(Option.getOrThrow)
      )))
      yield* eventually(() => watched.seen.length > 0, () => "no first record")
      yield* b.open("g1")
      yield* Fiber.join(watched.fiber)

      const statuses = watched.seen.map((info) => info.status)
      assert.strictEqual(statuses.at(-1), "completed")
      for (let i = 1; i < statuses.length; i++) assert.isAtLeast(statusRank[statuses[i]], statusRank[statuses[i - 1]], statuses.join())
      assert.strictEqual(watched.seen.at(-1)!.result, 5)
      assert.strictEqual(watched.seen.at(-1)!.runner, "runner-b:2")

      yield* eventually(() => changes.seen.some((info) => info.status === "completed"), () => JSON.stringify(changes.seen))
      assert.deepStrictEqual(changes.seen.map((info) => info.status), ["pending", "running", "completed"])
      for (const info of changes.seen) assert.deepStrictEqual([info.id, info.runner], [handle.id, "runner-b:2"])
      assert.deepStrictEqual(journal.seen, changes.seen)
      // The runner's own followers hear its changes at once, named for it too.
      assert.deepStrictEqual(ownChanges.seen.map((info) => [info.status, info.runner]), [
        ["pending", "runner-b:2"],
        ["running", "runner-b:2"],
        ["completed", "runner-b:2"]
      ])
      // A watch of a finished task gives its final record and ends.
      const again = yield* Stream.runCollect(a.feed.watch(handle.id, Effect.succeed(watched.seen.at(-1)!)))
      assert.deepStrictEqual(again.map((info) => info.status), ["completed"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a runner sends another's records only while its followers or waits want them: an unwanted task sends nothing, not even its end", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const a = yield* makeRunner("runner-a:1", cluster)
      const b = yield* makeRunner("runner-b:2", cluster)
      const read = (id: string) => Effect.map(Effect.orDie(cluster.store.get(id)), Option.getOrThrow)
      // Every change b sends, as any listener of the channel hears it.
      const listener = yield* pool(cluster.schema, 1)
      const notifications = yield* listener.listen(cluster.channel)
      const sent: Array<{ readonly id: string; readonly status: string; readonly progress: number }> = []
      yield* Effect.forkScoped(Effect.forever(Effect.map(Effect.orDie(Queue.take(notifications)), ({ payload }) => {
        const [from, header, body] = payload.split("\n", 3)
        if (from !== b.origin || !header.startsWith("c")) return
        for (const item of JSON.parse(payload.slice(from.length + header.length + 2))) {
          if ("i" in item) sent.push({ id: item.i.id, status: item.i.status, progress: item.i.progress })
        }
        void body
      })))
      const sentOf = (id: string) => sent.filter((change) => change.id === id)
      // a's all-tasks stream follows without declaring interest: it hears what b sends, nothing more.
      const changes = yield* collecting(a.feed.changes)
      const heardOf = (id: string) => changes.seen.filter((info) => info.id === id).map((info) => info.status)
      /**
       * Waits until a has heard b's task `id` completed and the test's listener has b's notification of it too: the
       * two listeners are two connections, each told in its own time, and a's may hear first. b's notifications reach
       * a listener in the order b sent them, so once the test's has the final record it has all b sent before it.
       */
      const heardEnded = (id: string) =>
        eventually(
          () => heardOf(id).includes("completed") && sentOf(id).some((change) => change.status === "completed"),
          () => `${id}: heard ${heardOf(id)}, sent ${JSON.stringify(sentOf(id))}`
        )
      /**
       * Waits until b has run task `id` to its end and sent whatever it sends of it: a's wait for a marker task of b's
       * that ends after it (wanted, so sent, and after all b sent of `id`) has its final record, and so has the test's
       * listener.
       */
      const endedOnB = (id: string) =>
        Effect.gen(function*() {
          yield* Effect.orDie(b.local.awaitInfo(id))
          const marker = yield* b.local.submit(Echo, { text: `after ${id}`, gate: `marker ${id}` })
          // its first read finds it unfinished (its gate still shut): the wait then wants its final record
          const firstRead = yield* Deferred.make<void>()
          const waiting = yield* Effect.forkScoped(
            a.feed.finalRecord(marker.id, Effect.tap(read(marker.id), () => Deferred.succeed(firstRead, undefined)))
          )
          yield* Deferred.await(firstRead)
          yield* b.open(`marker ${id}`)
          assert.strictEqual(Option.getOrThrow(yield* Fiber.join(waiting)).status, "completed")
          yield* eventually(() => sentOf(marker.id).some((change) => change.status === "completed"), () => `marker of ${id} not sent`)
        })
      /** Waits until b's task `id` has reported progress (which nobody may want). */
      const progressing = (id: string) =>
        Effect.gen(function*() {
          while ((yield* Effect.orDie(b.local.get(id))).progress === 0) yield* Effect.sleep("20 millis")
        }).pipe(Effect.timeout("20 seconds"), Effect.catchTag("TimeoutError", () => Effect.die(new Error(`${id} never progressed`))))

      // Nobody wants b's records: a task of b's sends nothing, its final record neither.
      const quiet = yield* b.local.submit(Ticking, { gate: "quiet" })
      const unwanted = yield* b.local.submit(Ticking, { gate: "unwanted" })
      yield* progressing(quiet.id)
      yield* progressing(unwanted.id)
      yield* b.open("quiet")
      yield* endedOnB(quiet.id)
      assert.deepStrictEqual(sentOf(quiet.id), [])
      assert.deepStrictEqual(heardOf(quiet.id), [])

      // A watch on a wants its task: b sends its progress from when it hears so, and its end.
      const watchedTask = yield* b.local.submit(Ticking, { gate: "watched" })
      const watched = yield* collecting(a.feed.watch(watchedTask.id, read(watchedTask.id)))
      const progressed = () => sentOf(watchedTask.id).filter((change) => change.status === "running" && change.progress > 0)
      yield* eventually(() => progressed().length >= 3, () => `${watchedTask.id}'s progress not sent: ${JSON.stringify(sentOf(watchedTask.id))}`)
      yield* b.open("watched")
      yield* Fiber.join(watched.fiber)
      assert.strictEqual(watched.seen.at(-1)!.status, "completed")
      assert.isAtLeast(watched.seen.filter((info) => info.status === "running" && info.progress > 0).length, 3)
      // Meanwhile b's other task, which nobody wants, sent nothing (of all b sent up to the watched task's end).
      yield* heardEnded(watchedTask.id)
      assert.deepStrictEqual(sentOf(unwanted.id), [])

      // An all-tasks follower wants every task: the other task's progress is sent too, and its end.
      yield* Effect.scoped(Effect.gen(function*() {
        yield* a.feed.interest.all
        yield* eventually(() => sentOf(unwanted.id).length >= 3, () => `${unwanted.id}'s progress not sent: ${JSON.stringify(sentOf(unwanted.id))}`)
        yield* b.open("unwanted")
        yield* heardEnded(unwanted.id)
      }))
      assert.strictEqual(heardOf(unwanted.id).at(-1), "completed")

      // Wants withdrawn (the watch ended, the follower left) are told: once b has heard so, its tasks send nothing
      // again.
      for (let tries = 1; ; tries++) {
        const later = yield* b.local.submit(Ticking, { gate: `later-${tries}` })
        yield* progressing(later.id)
        yield* b.open(`later-${tries}`)
        yield* endedOnB(later.id)
        if (sentOf(later.id).length === 0) break
        if (tries === 20) assert.fail(`b still sends records nobody wants: ${JSON.stringify(sentOf(later.id))}`)
      }
    }).pipe(Effect.scoped), 60_000)

  it.live("a watch whose wants were lost on their way ends with the final record its runner kept, and hears progress, once they are renewed", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const a = yield* makeRunner("runner-a:1", cluster)
      const b = yield* makeRunner("runner-b:2", cluster)
      const read = (id: string) => Effect.map(Effect.orDie(cluster.store.get(id)), Option.getOrThrow)
      /** Waits until `effect`'s answer passes `done`, at most 20 s, failing with what it saw last. */
      const until = <A>(effect: Effect.Effect<A>, done: (a: A) => boolean, what: string) =>
        Effect.gen(function*() {
          let last = yield* effect
          while (!done(last)) {
            yield* Effect.sleep("20 millis")
            last = yield* effect
          }
        }).pipe(Effect.timeout("20 seconds"), Effect.catchTag("TimeoutError", () => Effect.die(new Error(`never happened: ${what}`))))

      // a's wants never reach b: b sends nothing of its tasks, and keeps their final records.
      yield* a.loseWants(true)
      const lost = yield* b.local.submit(Ticking, { gate: "lost" })
      const watchedLost = yield* collecting(a.feed.watch(lost.id, read(lost.id)))
      // b's task has reported progress a few times since the watch began (its first read), none of it heard.
      const stepOf = (info: TaskInfo.TaskInfo) => Number(info.message?.replace("step ", "") ?? 0)
      const stepAtWatch = stepOf(yield* read(lost.id))
      yield* until(Effect.map(Effect.orDie(b.local.get(lost.id)), stepOf), (step) => step > stepAtWatch + 3, `${lost.id} progressing`)
      assert.isAtMost(watchedLost.seen.length, 1, JSON.stringify(watchedLost.seen.map((info) => [info.status, info.progress])))
      yield* b.open("lost")
      yield* Effect.orDie(b.local.awaitInfo(lost.id))
      // Wants flow again: renewed every second, they reach b, which sends the final record it kept.
      yield* a.loseWants(false)
      yield* Fiber.join(watchedLost.fiber)
      assert.strictEqual(watchedLost.seen.at(-1)!.status, "completed")

      // Lost again, then flowing: a's watch of another task hears its progress once a renewal reaches b.
      yield* a.loseWants(true)
      const renewed = yield* b.local.submit(Ticking, { gate: "renewed" })
      const watchedRenewed = yield* collecting(a.feed.watch(renewed.id, read(renewed.id)))
      // the notification telling b of this watch is lost too: only a renewal can tell it
      yield* until(Effect.sync(() => a.lostWants.some((payload) => payload.includes(renewed.id))), (told) => told, "wants told")
      yield* a.loseWants(false)
      yield* until(
        Effect.sync(() => watchedRenewed.seen.filter((info) => info.status === "running" && info.progress > 0).length),
        (heard) => heard >= 3,
        `progress of ${renewed.id} heard on a: ${JSON.stringify(watchedRenewed.seen.map((info) => info.progress))}`
      )
      yield* b.open("renewed")
      yield* Fiber.join(watchedRenewed.fiber)
      assert.strictEqual(watchedRenewed.seen.at(-1)!.status, "completed")
    }).pipe(Effect.scoped), 60_000)

  it.live.prop(
    "a burst goes in notifications under PostgreSQL's limit, fewer than its changes, and a record too large for one arrives whole",
    { lengths: Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4200 }))).check(Schema.isMinLength(1), Schema.isMaxLength(24)) },
    ({ lengths }) =>
      Effect.gen(function*() {
        const cluster = yield* freshCluster
        const a = yield* makeRunner("runner-a:1", cluster)
        const b = yield* makeRunner("runner-b:2", cluster)
        yield* wantingAll(a, b)
        const listener = yield* pool(cluster.schema, 1)
        const notifications = yield* listener.listen(cluster.channel)
        const sizes: Array<number> = []
        yield* Effect.forkScoped(Effect.forever(Effect.map(
          Effect.orDie(Queue.take(notifications)),
          (n) => sizes.push(Buffer.byteLength(n.payload, "utf8"))
        )))
        const changes = yield* collecting(a.feed.changes)

        const texts = lengths.map((length, i) => mixedText(length, i))
        const handles = yield* b.local.submitAll(Echo, texts.map((text) => ({ text })))
        const ids = new Set(handles.map((handle) => handle.id))
        // A record read back from the store may be heard more than once (its change and a later one both sent by id).
        const finished = () => new Map(changes.seen.flatMap((info) => ids.has(info.id) && info.status === "completed" ? [[info.id, info]] : []))
        yield* eventually(() => finished().size === ids.size, () => `${finished().size} of ${ids.size} completed`)

        // Each arrived whole: the payload as submitted, its result, its runner.
        const byId = finished()
        handles.forEach((handle, i) => {
          const info = byId.get(handle.id)!
          assert.deepStrictEqual(info.payload, { text: texts[i] })
          assert.strictEqual(info.result, texts[i].length)
          assert.strictEqual(info.runner, "runner-b:2")
        })
        // In order per task; every change of a record well under the limit heard (a larger one is read back from
        // the store, where a later change may already stand).
        handles.forEach((handle, i) => {
          const statuses = changes.seen.filter((info) => info.id === handle.id).map((info) => info.status)
          for (let j = 1; j < statuses.length; j++) assert.isAtLeast(statusRank[statuses[j]], statusRank[statuses[j - 1]])
          if (Buffer.byteLength(texts[i]) < 3000) assert.deepStrictEqual(statuses, ["pending", "running", "completed"])
        })
        for (const size of sizes) assert.isBelow(size, 8000)
        const heard = changes.seen.filter((info) => ids.has(info.id)).length
        // Changes share notifications (each notification of the counts, one a second, counted too).
        if (ids.size >= 8) assert.isBelow(sizes.length, heard)
      }).pipe(Effect.scoped),
    { timeout: 180_000, arbitrary: { runs: 6, maxShrinks: 3 } }
  )

  it.live("a deletion reaches the other runner's journal and ends its watch; a large deleted record still arrives", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const a = yield* makeRunner("runner-a:1", cluster)
      const b = yield* makeRunner("runner-b:2", cluster)
      yield* wantingAll(a, b)
      const journal = yield* collecting(a.feed.changesAndDeletions)
      const changes = yield* collecting(a.feed.changes)

      const small = yield* b.local.submit(Echo, { text: "small", gate: "never" })
      // 3,000 emoji: 6,000 UTF-16 units (under PostgreSQL's limit counted as characters) but 12,000 bytes of UTF-8
      const large = yield* b.local.submit(Echo, { text: "😀".repeat(3000), gate: "never" })
      const read = (id: string) => Effect.map(Effect.orDie(cluster.store.get(id)), Option.getOrThrow)
      const runningIds = () => new Set(journal.seen.flatMap((item) => !("_tag" in item) && item.status === "running" ? [item.id] : []))
      yield* eventually(
        () => runningIds().size === 2,
        () => JSON.stringify(journal.seen.map((item) => "_tag" in item ? "deleted" : item.status))
      )
      const watched = yield* collecting(a.feed.watch(small.id, read(small.id)))
      yield* eventually(() => watched.seen.length > 0, () => "no first record")
      for (const handle of [small, large]) {
        yield* b.local.interrupt(handle.id)
        // a has heard it finish: the deletion is what tells it the record has gone
        yield* eventually(
          () => journal.seen.some((item) => !("_tag" in item) && item.id === handle.id && item.status === "interrupted"),
          () => `${handle.id} not heard interrupted`
        )
        const info = yield* read(handle.id)
        yield* Effect.orDie(cluster.store.remove(handle.id))
        yield* b.feed.deleted(info)
      }
      yield* Fiber.join(watched.fiber)
      const deletionOf = (id: string) => journal.seen.find((item) => "_tag" in item && item.info.id === id) as TaskEvent.Deleted | undefined
      yield* eventually(
        () => deletionOf(small.id) !== undefined && deletionOf(large.id) !== undefined,
        () => JSON.stringify(journal.seen.map((item) => "_tag" in item ? "deleted" : item.status))
      )
      const [smallGone, largeGone] = [deletionOf(small.id)!, deletionOf(large.id)!]
      assert.deepStrictEqual([smallGone.info.runner, smallGone.info.status], ["runner-b:2", "interrupted"])
      assert.deepStrictEqual(smallGone.info.payload, { text: "small", gate: "never" })
      assert.deepStrictEqual([largeGone.info.kind, largeGone.info.runner], ["echo", "runner-b:2"])
      // Nothing of a deleted task is heard after its deletion.
      const lastIndex = (id: string) => journal.seen.findLastIndex((item) => !("_tag" in item) && item.id === id)
      assert.isBelow(lastIndex(small.id), journal.seen.indexOf(smallGone))
      // A deletion is no change: `changes` heard the records only.
      assert.isTrue(changes.seen.every((info) => !("_tag" in info)))
      // The watch ended on the deletion, after the records it had.
      assert.notInclude(watched.seen.map((info) => info.id), large.id)
    }).pipe(Effect.scoped), 60_000)

  it.live("after the listener's connection breaks, the runner re-reads what it followed, heard of as unfinished, and every unfinished record", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const a = yield* makeRunner("runner-a:1", cluster)
      const b = yield* makeRunner("runner-b:2", cluster)
      yield* wantingAll(a, b)
      const journal = yield* collecting(a.feed.changesAndDeletions)
      const read = (id: string) => Effect.map(Effect.orDie(cluster.store.get(id)), Option.getOrThrow)

      const followed = yield* b.local.submit(Echo, { text: "followed", gate: "followed" })
      const heardOf = yield* b.local.submit(Echo, { text: "heard of", gate: "heard" })
      const removed = yield* b.local.submit(Echo, { text: "removed", gate: "removed" })
      const running = (id: string) => journal.seen.some((item) => !("_tag" in item) && item.id === id && item.status === "running")
      yield* eventually(() => [followed, heardOf, removed].every((h) => running(h.id)), () => "not all heard running")
      const watched = yield* collecting(a.feed.watch(followed.id, read(followed.id)))
      yield* eventually(() => watched.seen.length > 0, () => "no first record")

      // b's notifications are lost from here: a hears of what follows only by reading the store.
      yield* b.silence(true)
      yield* b.open("followed")
      yield* b.open("heard")
      yield* b.local.interrupt(removed.id)
      yield* Effect.orDie(cluster.store.remove(removed.id))
      const unheard = yield* b.local.submit(Echo, { text: "unheard", gate: "unheard" })
      for (const id of [followed.id, heardOf.id]) yield* Effect.orDie(b.local.awaitInfo(id))
      assert.isFalse(journal.seen.some((item) => !("_tag" in item) && item.status === "completed"))

      // The listener's connection ends; the runner listens again and re-reads.
      yield* cluster.admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE ${`LISTEN%${cluster.channel}%`}`
      yield* Fiber.join(watched.fiber)
      assert.strictEqual(watched.seen.at(-1)!.status, "completed")
      const completed = (id: string) => journal.seen.some((item) => !("_tag" in item) && item.id === id && item.status === "completed")
      yield* eventually(
        () => completed(followed.id) && completed(heardOf.id) &&
          journal.seen.some((item) => "_tag" in item && item.info.id === removed.id) &&
          journal.seen.some((item) => !("_tag" in item) && item.id === unheard.id),
        () => JSON.stringify(journal.seen.map((item) => "_tag" in item ? ["deleted", item.info.id] : [item.status, item.id]))
      )
      const lastOfUnheard = journal.seen.filter((item) => !("_tag" in item) && item.id === unheard.id).at(-1) as TaskInfo.TaskInfo
      assert.strictEqual(lastOfUnheard.status, "running")
    }).pipe(Effect.scoped), 90_000)

  it.live("the counts add up every runner's, leaving out a runner that said farewell and counts older than three seconds", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const clock = yield* TestClock.make()
      // a keeps time by the test's clock: the age of b's counts is what the test says it is.
      const a = yield* makeRunner("runner-a:1", cluster, { clock })
      const b = yield* makeRunner("runner-b:2", cluster)
      yield* a.local.submit(Echo, { text: "a", gate: "a" })
      yield* b.local.submit(Echo, { text: "b1", gate: "b" })
      yield* b.local.submit(Echo, { text: "b2", gate: "b" })
      const own = yield* a.local.stats
      const theirs = yield* b.local.stats
      let total = yield* a.feed.stats
      while (total.running !== own.running + theirs.running) {
        yield* Effect.sleep("50 millis")
        total = yield* a.feed.stats
      }
      assert.deepStrictEqual(total, {
        pending: own.pending + theirs.pending,
        running: own.running + theirs.running,
        maxWorkers: own.maxWorkers + theirs.maxWorkers,
        runningByKind: { echo: 3 },
        accepting: true
      })

      // b falls silent (no farewell): its counts stay for three seconds of a's time, then leave.
      yield* b.silence(true)
      // A notification of b's already under way lands first: b's sends have ended (each taken by PostgreSQL), and a
      // has heard a farewell sent after them, runner c's (PostgreSQL delivers notifications in the order they were
      // taken, and a reads them in that order).
      yield* eventually(() => b.notifying() === 0, () => `${b.notifying()} notifications of b under way`)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* makeRunner("runner-c:3", cluster)
        while ((yield* a.feed.stats).maxWorkers !== 3 * own.maxWorkers) yield* Effect.sleep("50 millis")
      }))
      while ((yield* a.feed.stats).maxWorkers !== 2 * own.maxWorkers) yield* Effect.sleep("50 millis")
      yield* clock.adjust("3 seconds")
      assert.strictEqual((yield* a.feed.stats).running, 3)
      yield* clock.adjust("1 millis")
      assert.deepStrictEqual(yield* a.feed.stats, yield* a.local.stats)
      yield* b.silence(false)
    }).pipe(Effect.scoped), 60_000)

  it.live("a runner that stops says farewell: its counts leave the others' at once", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      // a's clock stands still: b's counts never grow stale there, only its farewell removes them.
      const a = yield* makeRunner("runner-a:1", cluster, { clock: yield* TestClock.make() })
      const own = yield* a.local.stats
      const b = yield* Effect.forkScoped(Effect.scoped(Effect.gen(function*() {
        const b = yield* makeRunner("runner-b:2", cluster)
        yield* b.local.submit(Echo, { text: "b", gate: "b" })
        yield* Effect.never
      })))
      let total = yield* a.feed.stats
      while (total.running !== 1) {
        yield* Effect.sleep("50 millis")
        total = yield* a.feed.stats
      }
      assert.strictEqual(total.maxWorkers, 2 * own.maxWorkers)
      yield* Fiber.interrupt(b)
      while ((yield* a.feed.stats).running !== 0) yield* Effect.sleep("50 millis")
      assert.deepStrictEqual(yield* a.feed.stats, own)
    }).pipe(Effect.scoped), 60_000)

  it.live("a finished record is told once, though the re-read after the listener's connection broke reads it again", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const a = yield* makeRunner("runner-a:1", cluster)
      const b = yield* makeRunner("runner-b:2", cluster)
      // a's all-tasks stream declares its interest, as `TaskFeed` does
      yield* a.feed.interest.all
      const changes = yield* collecting(a.feed.changes)
      const completions = (id: string) => changes.seen.filter((info) => info.id === id && info.status === "completed").length
      const heardDone = (ids: ReadonlyArray<string>) =>
        eventually(() => ids.every((id) => completions(id) > 0), () => JSON.stringify(changes.seen.map((info) => [info.id, info.status])))

      const before = yield* b.local.submitAll(Echo, [{ text: "one" }, { text: "two" }, { text: "three" }])
      const ids = before.map((handle) => handle.id)
      yield* heardDone(ids)
      // Both listeners' connections end: each listens again and re-reads every record made since shortly before
      // the last notification it heard, these three finished ones among them.
      yield* cluster.admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE ${`LISTEN%${cluster.channel}%`}`
      // A task after the break is heard only once a listens again, after its re-read (or by that re-read).
      const after = yield* b.local.submit(Echo, { text: "after" })
      yield* heardDone([after.id])
      for (const id of [...ids, after.id]) assert.strictEqual(completions(id), 1, `${id}: ${JSON.stringify(changes.seen.map((info) => [info.id, info.status]))}`)
    }).pipe(Effect.scoped), 60_000)
})
