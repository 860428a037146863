/**
 * A task's final record goes only to runners that want it (`ClusterFeed`, session 16): two runners' feeds in the test
 * process on the real PostgreSQL (`FeedRunners.ts`), and a listener of the test's own on their channel, which hears
 * every notification either runner's listener hears. The waits' reads again (`finalRecheck`) are set to an hour: a
 * wait these tests see end was answered by the feed, not by a read again.
 *
 * - a join on b of a task run on a gets its final record, begun before the task's end and after it (a kept it);
 *   a task b expected (`expect`) is joined without a read;
 * - a runner that wants nothing of another's tasks is sent nothing of them;
 * - an all-tasks stream (`TaskFeed.all`) on b sees every final record of a's, those ended before b's want arrived too;
 *   waits too many to name want every final record, and get those a kept of tasks that ended lately;
 * - what a runner keeps and wants stays bounded: a keeps at most `unsentLimit` records per generation, the oldest
 *   dropped; b's wants are empty again once its waits end.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option } from "effect"
import { TaskInfo } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { collecting, counting, Echo, eventually, freshCluster, makeRunner, pool, serviceFeed, twoRunners } from "./FeedRunners.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("final records by interest", () => {
  it.live("a join on b of a task run on a gets its final record, begun before the task ended or after; an expected task's join reads nothing", () =>
    Effect.gen(function*() {
      const { a, aSettled, b, read, sentOf, waitOnB } = yield* twoRunners()

      // Begun before the end: its first read finds the task running, and the final record comes when a ends it.
      const before = yield* a.local.submit(Echo, { text: "before", gate: "before" })
      const early = yield* waitOnB(before.id)
      yield* a.open("before")
      const heardBefore = Option.getOrThrow(yield* Fiber.join(early))
      assert.deepStrictEqual([heardBefore.status, heardBefore.result, heardBefore.runner], ["completed", 6, "runner-a:1"])

      // Begun after the end: its first read was made before (the record as it stood then); a, which nobody asked,
      // kept the final record and sends it when b's want arrives.
      const after = yield* a.local.submit(Echo, { text: "after", gate: "after" })
      const stale = yield* read(after.id)
      assert.notStrictEqual(stale.status, "completed")
      yield* a.open("after")
      yield* Effect.orDie(a.local.awaitInfo(after.id))
      yield* aSettled
      assert.deepStrictEqual(sentOf(a, after.id), [], "sent before anybody wanted it")
      const late = yield* waitOnB(after.id, Effect.succeed(stale))
      const heardAfter = Option.getOrThrow(yield* Fiber.join(late))
      assert.deepStrictEqual([heardAfter.status, heardAfter.result], ["completed", 5])

      // Expected on b before it was submitted (to a, here): b wants it from then on, and its join reads nothing.
      for (const gated of [false, true]) {
        const id = TaskInfo.makeId(Date.now())
        b.feed.expect(id)
        yield* a.local.submit(Echo, { text: "expected", ...(gated ? { gate: id } : {}) }, { id })
        if (!gated) yield* Effect.orDie(a.local.awaitInfo(id))
        const join = yield* Effect.forkScoped(b.feed.finalRecord(id, Effect.die(new Error(`the join of ${id} read the record`))))
        if (gated) yield* a.open(id)
        assert.strictEqual(Option.getOrThrow(yield* Fiber.join(join)).status, "completed")
      }
    }).pipe(Effect.scoped), 60_000)

  it.live("a runner that wants nothing of another's tasks is sent nothing of them, not even their final records", () =>
    Effect.gen(function*() {
      const { a, aSettled, b, sentOf } = yield* twoRunners()
      // b's direct follower declares nothing: it hears what b wants, nothing here
      const changes = yield* collecting(b.feed.changes)
      const handles = yield* a.local.submitAll(Echo, Array.from({ length: 20 }, (_, n) => ({ text: `task ${n}` })))
      for (const handle of handles) yield* Effect.orDie(a.local.awaitInfo(handle.id))
      yield* aSettled
      for (const handle of handles) assert.deepStrictEqual(sentOf(a, handle.id), [], `a sent ${handle.id}`)
      const ids = new Set(handles.map((handle) => handle.id))
      assert.deepStrictEqual(changes.seen.filter((info) => ids.has(info.id)), [])
    }).pipe(Effect.scoped), 60_000)

  it.live("an all-tasks stream on b sees every final record of a's, those that ended before its want reached a too", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoRunners()
      // b's `TaskFeed`, as a runner's service has it: over the feed's changes, declaring its interest
      const feed = yield* serviceFeed(b)
      const all = yield* collecting(feed.all({ visible: () => true }))
      // at once: most end before a hears that b wants them
      const handles = yield* a.local.submitAll(Echo, Array.from({ length: 30 }, (_, n) => ({ text: `task ${n}` })))
      const gated = yield* a.local.submit(Echo, { text: "gated", gate: "gated" })
      yield* a.open("gated")
      const ids = new Set([...handles.map((handle) => handle.id), gated.id])
      const completed = () =>
        new Set(all.seen.flatMap((item) => item._tag === "Change" && item.info.status === "completed" && ids.has(item.info.id) ? [item.info.id] : []))
      yield* eventually(() => completed().size === ids.size, () => `${completed().size} of ${ids.size} heard completed`)
    }).pipe(Effect.scoped), 60_000)

  it.live("waits too many for b's list of them want every final record: a sends those it kept of tasks that ended lately", () =>
    Effect.gen(function*() {
      const { a, b, read, waitOnB } = yield* twoRunners()
      const lately = yield* a.local.submit(Echo, { text: "lately", gate: "lately" })
      // b's wants lost on their way meanwhile: a hears none of b's waits, and keeps the final record
      yield* b.loseWants(true)
      const waiting = yield* waitOnB(lately.id)
      const running = yield* read(lately.id)
      // 300 more waits on b, too many to name in one notification: b wants every final record
      for (let n = 0; n < 300; n++) yield* waitOnB(TaskInfo.makeId(Date.now()), Effect.succeed({ ...running, id: TaskInfo.makeId(Date.now()) }))
      yield* a.open("lately")
      yield* Effect.orDie(a.local.awaitInfo(lately.id))
      // a's send after its linger has left the record kept (not a bound of the test: a send after it works too)
      yield* Effect.sleep("200 millis")
      // b's next renewal reaches a: every final record, and the one a kept, ended since b's previous wants
      yield* b.loseWants(false)
      assert.strictEqual(Option.getOrThrow(yield* Fiber.join(waiting)).status, "completed")
    }).pipe(Effect.scoped), 60_000)

  it.live("a keeps at most its bound of final records nobody wanted, the oldest dropped; b wants nothing once its waits end", () =>
    Effect.gen(function*() {
      const { a, aSettled, b, heard, read, sentOf, waitOnB } = yield* twoRunners({ unsentLimit: 4 })
      // twelve records kept four to a generation: the first are dropped, the last kept
      const handles: Array<{ readonly id: string; readonly stale: TaskInfo.TaskInfo }> = []
      for (let n = 0; n < 12; n++) {
        const handle = yield* a.local.submit(Echo, { text: `task ${n}`, gate: `g${n}` })
        handles.push({ id: handle.id, stale: yield* read(handle.id) })
        yield* a.open(`g${n}`)
        yield* Effect.orDie(a.local.awaitInfo(handle.id))
      }
      yield* aSettled
      const [first, last] = [handles[0]!, handles[11]!]
      // b's want of the first goes out before (or with) its want of the last: once the last is sent, a has heard both
      const dropped = yield* waitOnB(first.id, Effect.succeed(first.stale))
      const kept = yield* waitOnB(last.id, Effect.succeed(last.stale))
      assert.strictEqual(Option.getOrThrow(yield* Fiber.join(kept)).status, "completed")
      yield* eventually(() => sentOf(a, last.id).length > 0, () => "the last not sent")
      assert.deepStrictEqual(sentOf(a, first.id), [], "a kept the first past its bound")
      yield* Fiber.interrupt(dropped)
      // every wait of b's has ended: its wants, renewed each second, come to name nothing
      const lastWants = () => heard.filter((notification) => notification.from === b.origin && notification.what === "w").at(-1)
      yield* eventually(() => lastWants()?.body === `{"t":[]}`, () => `b's last wants: ${lastWants()?.body}`)
    }).pipe(Effect.scoped), 60_000)

  it.live("an expected task's join takes over its expectation's want: b's wants name the task until the join ends, not after", () =>
    Effect.gen(function*() {
      const { a, b, heard } = yield* twoRunners()
      const wantsOfB = () => heard.filter((notification) => notification.from === b.origin && notification.what === "w")
      const id = TaskInfo.makeId(Date.now())
      b.feed.expect(id)
      yield* a.local.submit(Echo, { text: "expected", gate: id }, { id })
      const join = yield* Effect.forkScoped(b.feed.finalRecord(id, Effect.die(new Error(`the join of ${id} read the record`))))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      // two of b's renewals (one a second) after the join began: the last was made while the join waits
      const begun = wantsOfB().length
      yield* eventually(() => wantsOfB().length >= begun + 2, () => "b renewed no wants")
      const finalsOf = (body: string | undefined) => (JSON.parse(body ?? "{}") as { readonly f?: ReadonlyArray<string> }).f ?? []
      assert.deepStrictEqual(finalsOf(wantsOfB().at(-1)?.body), [id], "b's wants while its join waits")
      yield* a.open(id)
      assert.strictEqual(Option.getOrThrow(yield* Fiber.join(join)).status, "completed")
      // the join has ended: b's next renewal names the task no more (and is its last: b wants nothing)
      yield* eventually(
        () => finalsOf(wantsOfB().at(-1)?.body).length === 0,
        () => `b's wants once its join ended: ${wantsOfB().at(-1)?.body}`
      )
    }).pipe(Effect.scoped), 60_000)

  it.live("a runner's leaving reads again only the waits begun without a read that still wait: not one that read first, not one that ended", () =>
    Effect.gen(function*() {
      const cluster = yield* freshCluster
      const a = yield* makeRunner("runner-a:1", cluster, { finalRecheck: "1 hour" })
      const reads = new Map<string, number>()
      const b = yield* makeRunner("runner-b:2", cluster, { finalRecheck: "1 hour", feedStore: counting(reads) })
      const read = (id: string) => Effect.map(Effect.orDie(cluster.store.get(id)), Option.getOrThrow)
      // an expected task of a's, joined on b before its end (unread), and heard completed: that wait has ended
      const ended = TaskInfo.makeId(Date.now())
      b.feed.expect(ended)
      yield* a.local.submit(Echo, { text: "expected", gate: ended }, { id: ended })
      const join = yield* Effect.forkScoped(b.feed.finalRecord(ended, Effect.die(new Error(`the join of ${ended} read the record`))))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      yield* a.open(ended)
      assert.strictEqual(Option.getOrThrow(yield* Fiber.join(join)).status, "completed")
      // a wait on b that read first, still waiting for a's task to end
      const waiting = yield* a.local.submit(Echo, { text: "waiting", gate: "waiting" })
      const firstRead = yield* Deferred.make<void>()
      const wait = yield* Effect.forkScoped(b.feed.finalRecord(waiting.id, Effect.tap(read(waiting.id), () => Deferred.succeed(firstRead, undefined))))
      yield* Deferred.await(firstRead)
      // a task b knows unfinished on c: what c's leaving reads again, the test's marker
      const marker = record({ kind: "unregistered", status: "running", runner: "runner-c:3" })
      yield* Effect.orDie(cluster.store.insert(marker))
      yield* b.feed.observed(marker)

      // c (a runner b never heard before) says farewell: b reads again the marker, and neither of the two waits
      const notifier = yield* pool(cluster.schema, 1)
      yield* Effect.orDie(notifier.notify(cluster.channel, "runner-c:3\ngfarewell.1.0\n"))
      yield* eventually(() => reads.has(marker.id), () => "the marker not read again")
      // the reads again start together (8 at a time): by the time the marker's is done, no other is still to start
      yield* Effect.sleep("500 millis")
      assert.deepStrictEqual([...reads.keys()], [marker.id])
      yield* Fiber.interrupt(wait)
    }).pipe(Effect.scoped), 60_000)

  it.live("an expected task's join made seconds after its expectation still reads nothing while no runner left", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoRunners()
      const id = TaskInfo.makeId(Date.now())
      b.feed.expect(id)
      yield* a.local.submit(Echo, { text: "expected", gate: id }, { id })
      // past a turn of b's silence check (every second), which finds no runner gone
      yield* Effect.sleep("1500 millis")
      const join = yield* Effect.forkScoped(b.feed.finalRecord(id, Effect.die(new Error(`the join of ${id} read the record`))))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      yield* a.open(id)
      assert.strictEqual(Option.getOrThrow(yield* Fiber.join(join)).status, "completed")
    }).pipe(Effect.scoped), 60_000)
})
