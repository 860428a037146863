/**
 * How a runner's `Tasks` routes work to shard owners (`ClusterTasks`,
 * `TaskEntity`): two runners of `Runner.layer` in the test process on one
 * fresh PostgreSQL database (`InProcessCluster.ts`). Submissions through one
 * runner run on the owner of the task's shard, with every option the caller
 * gave; reads, awaits, watches, interrupts (the finalizer runs on the owner)
 * and deletions work through either runner; an exclusive key holds across
 * both; bad submissions are refused with a typed error and record nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Stream, Tracer } from "effect"
import { TaskEntity } from "@chainjobs/cluster"
import type { TaskInfo } from "@chainjobs/tasks"
import { eventually, Gated, Hold, idOn, keyOn, makeCluster, Scan, settled, type TestCluster, type TestRunner } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** Two runners, a and b, holding every shard between them. */
const twoRunners = Effect.gen(function*() {
  const cluster = yield* makeCluster
  const a = yield* cluster.start("a")
  const b = yield* cluster.start("b")
  yield* settled([a, b])
  return { cluster, a, b }
})

/** Whether `runner` reads task `id` in `status`. */
const statusIs = (runner: TestRunner, id: string, status: TaskInfo.TaskInfo["status"]) =>
  Effect.map(Effect.orDie(runner.tasks.get(id)), (info) => info.status === status)

/** Waits until task `id`'s handler has begun (its finalizer is in place): its status says `running` a little earlier. */
const started = (cluster: TestCluster, id: string) =>
  eventually(
    Effect.sync(() => cluster.happenings.some((h) => h.event === "start" && h.task === id)),
    () => `task ${id} starts: ${JSON.stringify(cluster.happenings)}`
  )

/** The runner owning a task's shard now. */
const ownerOf = (runners: ReadonlyArray<TestRunner>, task: { id: string; kind: string; key: string | null }) =>
  runners.find((runner) => runner.holds(TaskEntity.placement(task)))!

describe.skipIf(pgTestUrl === undefined)("ClusterTasks routing", () => {
  it.live("a task submitted through either runner runs on its shard's owner with the caller's options; the other runner reads, watches, awaits and lists it", () =>
    Effect.gen(function*() {
      const { a, b, cluster } = yield* twoRunners
      const onA = yield* idOn(a)
      const onB = yield* idOn(b)
      const options = { owner: "alice", priority: 3, timeoutMillis: 60_000, heartbeatTimeoutMillis: 30_000, retries: 2 }
      // each submitted through the runner that does not own it
      const first = yield* b.tasks.submit(Gated, { gate: "first" }, { ...options, id: onA })
      const second = yield* a.tasks.submit(Gated, { gate: "second" }, { id: onB })
      assert.deepStrictEqual([first.id, second.id, first.kind], [onA, onB, "gated"])
      yield* eventually(statusIs(b, onA, "running"), () => `task ${onA} runs`)
      yield* eventually(statusIs(a, onB, "running"), () => `task ${onB} runs`)
      const read = yield* b.tasks.get(onA)
      assert.deepInclude(read, { ...options, runner: a.address, kind: "gated", payload: { gate: "first" } })
      const other = yield* a.tasks.get(onB)
      assert.deepInclude(other, { owner: null, priority: 0, runner: b.address })
      // either runner's counts add up both runners' tasks
      yield* eventually(Effect.map(a.tasks.stats, (stats) => stats.running === 2), () => "a counts both running tasks")
      const watched: Array<TaskInfo.TaskInfo> = []
      const watch = yield* Effect.forkScoped(Stream.runForEach(b.tasks.watch(onA), (info) => Effect.sync(() => watched.push(info))))
      const awaiting = yield* Effect.forkScoped(b.tasks.awaitInfo(onA))
      yield* cluster.open("first")
      const final = yield* Fiber.join(awaiting)
      assert.deepInclude(final, { status: "completed", result: "a", runner: a.address })
      assert.strictEqual(yield* first.join, "a")
      yield* Fiber.join(watch)
      assert.deepStrictEqual(watched.map((info) => info.status).slice(-1), ["completed"])
      assert.strictEqual(watched[0]!.status, "running")
      yield* cluster.open("second")
      // a handle made on either runner reaches the task where it runs
      const handle = yield* b.tasks.handle(onB, Gated)
      assert.strictEqual(yield* handle.join, "b")
      assert.strictEqual((yield* a.tasks.awaitInfo(onB)).runner, b.address)
      // an await of a finished task answers at once, from the record
      assert.strictEqual((yield* a.tasks.awaitInfo(onA)).status, "completed")
      const listed = yield* a.tasks.list({ kind: ["gated"] })
      assert.sameMembers(listed.items.map((info) => info.id), [onA, onB])
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a join on the other runner waits for the final record through the feed: no Await to the owner", () =>
    Effect.gen(function*() {
      const { a, b, cluster } = yield* twoRunners
      const onB = yield* idOn(b, "fed")
      const handle = yield* a.tasks.submit(Gated, { gate: "fed" }, { id: onB })
      yield* eventually(statusIs(a, onB, "running"), () => `task ${onB} runs`)
      // every call the cluster's clients make under the wait is a span named for its message (`….client.Await`)
      const spans: Array<string> = []
      const tracer = Tracer.make({
        span(options) {
          spans.push(options.name)
          return Tracer.nativeTracer.span(options)
        }
      })
      const joining = yield* Effect.forkScoped(Effect.withTracer(handle.join, tracer))
      yield* eventually(Effect.sync(() => spans.length > 0), () => "the join begins")
      yield* cluster.open("fed")
      assert.strictEqual(yield* Fiber.join(joining), "b")
      assert.deepStrictEqual(spans.filter((name) => name.includes("Await")), [])
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a batch spreads over both runners, each task on its own shard's owner with the batch's options; run answers the result", () =>
    Effect.gen(function*() {
      const { a, b, cluster } = yield* twoRunners
      const gates = Array.from({ length: 8 }, (_, i) => `batch-${i}`)
      yield* Effect.forEach(gates, cluster.open)
      // an id given for the batch is not given to every task of it
      const handles = yield* a.tasks.submitAll(Gated, gates.map((gate) => ({ gate })), { owner: "batch", id: "one-id" })
      assert.strictEqual(new Set(handles.map((handle) => handle.id)).size, gates.length)
      const infos = yield* Effect.forEach(handles, (handle) => b.tasks.awaitInfo(handle.id))
      for (const info of infos) {
        const owner = ownerOf([a, b], info)
        assert.deepInclude(info, { status: "completed", owner: "batch", runner: owner.address, result: owner.name }, info.id)
      }
      yield* cluster.open("run")
      assert.strictEqual(yield* b.tasks.run(Gated, { gate: "run" }, { id: yield* idOn(a, "run") }), "a")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("an interrupt through one runner stops a task running on the other, whose finalizer runs there; a deletion through either removes it for both", () =>
    Effect.gen(function*() {
      const { a, b, cluster } = yield* twoRunners
      const held = yield* b.tasks.submit(Hold, { key: yield* keyOn(a, "hold"), gate: "never" })
      yield* started(cluster, held.id)
      yield* b.tasks.interrupt(held.id)
      // the interrupt returns once the task has stopped where it ran
      assert.deepStrictEqual(
        cluster.happenings.filter((h) => h.task === held.id).map((h) => `${h.event} on ${h.runner}`),
        ["start on a", "finalizer on a"]
      )
      assert.strictEqual((yield* b.tasks.get(held.id)).status, "interrupted")
      const outcome = yield* held.await
      assert.isTrue(Exit.isFailure(outcome) && Cause.hasInterrupts(outcome.cause), "the handle's outcome is an interruption")
      // a finished task: nothing to do
      yield* a.tasks.interrupt(held.id)
      assert.strictEqual((yield* a.tasks.interrupt("no-such-task").pipe(Effect.flip))._tag, "TaskNotFound")

      // a follower of every change on a hears a deletion made through b
      const deletions: Array<string> = []
      yield* Effect.forkScoped(Stream.runForEach(a.tasks.changesAndDeletions, (item) =>
        Effect.sync(() => void ("_tag" in item && item._tag === "Deleted" && deletions.push(item.info.id)))))
      const doomed = yield* b.tasks.submit(Hold, { key: yield* keyOn(a, "hold", "doomed"), gate: "never" })
      yield* started(cluster, doomed.id)
      yield* b.tasks.delete(doomed.id)
      assert.isTrue(
        cluster.happenings.some((h) => h.event === "finalizer" && h.task === doomed.id && h.runner === "a"),
        `the deleted task's finalizer runs on a: ${JSON.stringify(cluster.happenings)}`
      )
      assert.strictEqual((yield* a.tasks.get(doomed.id).pipe(Effect.flip))._tag, "TaskNotFound")
      yield* eventually(Effect.sync(() => deletions.includes(doomed.id)), () => `a hears the deletion: ${deletions}`)
      // a finished task is deleted too, and told once
      yield* a.tasks.delete(held.id)
      yield* eventually(Effect.sync(() => deletions.includes(held.id)), () => `a hears the second deletion: ${deletions}`)
      assert.strictEqual((yield* b.tasks.delete(held.id).pipe(Effect.flip))._tag, "TaskNotFound")
      assert.strictEqual(deletions.filter((id) => id === held.id).length, 1)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("an exclusive key holds across runners: a second task of a busy key is refused through either runner, joins the first, or queues behind it", () =>
    Effect.gen(function*() {
      const { a, b, cluster } = yield* twoRunners
      const key = yield* keyOn(b, "hold")
      const first = yield* a.tasks.submit(Hold, { key, gate: "first" })
      for (const via of [a, b]) {
        const refused = yield* via.tasks.submit(Hold, { key, gate: "other" }).pipe(Effect.flip)
        assert.deepInclude(refused, { _tag: "SubmitRejected", reason: "key-busy", key })
      }
      const joined = yield* b.tasks.submit(Hold, { key, gate: "other" }, { onConflict: "join" })
      assert.strictEqual(joined.id, first.id)
      const queued = yield* a.tasks.submit(Hold, { key, gate: "queued" }, { onConflict: "queue" })
      assert.notStrictEqual(queued.id, first.id)
      yield* eventually(statusIs(a, first.id, "running"), () => "the first runs")
      assert.strictEqual((yield* a.tasks.get(queued.id)).status, "pending")
      yield* cluster.open("first")
      assert.strictEqual(yield* joined.join, "b")
      yield* cluster.open("queued")
      assert.deepInclude(yield* a.tasks.awaitInfo(queued.id), { status: "completed", runner: b.address })
      const starts = cluster.happenings.filter((h) => h.event === "start").map((h) => h.task)
      assert.deepStrictEqual(starts, [first.id, queued.id])
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("bad submissions and reads are refused with a typed error and record nothing", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      yield* settled([a])
      const unknown = yield* a.tasks.submitEncoded("no-such-kind", {}).pipe(Effect.flip)
      assert.deepInclude(unknown, { _tag: "UnknownTaskKind", kind: "no-such-kind" })
      // an encoded payload that does not decode: the owner refuses it, naming the field
      const undecoded = yield* a.tasks.submitEncoded("hold", { key: 1, gate: "g" }).pipe(Effect.flip)
      assert.deepInclude(undecoded, { _tag: "InvalidPayload", kind: "hold" })
      assert.match(undecoded.message, /key/)
      const unencoded = yield* a.tasks.submit(Scan, { gate: "g", from: "one" as unknown as number, to: 2 }).pipe(Effect.flip)
      assert.deepInclude(unencoded, { _tag: "InvalidPayload", kind: "scan" })
      const retries = yield* a.tasks.submit(Gated, { gate: "g" }, { retries: -1 }).pipe(Effect.flip)
      assert.match(retries.message, /retries/)
      assert.deepStrictEqual((yield* a.tasks.list({})).items, [])
      // an encoded payload that decodes runs
      yield* cluster.open("g")
      const encoded = yield* a.tasks.submitEncoded("gated", { gate: "g" })
      assert.deepStrictEqual(yield* encoded.join, "a")
      const mismatch = yield* a.tasks.handle(encoded.id, Scan).pipe(Effect.flip)
      assert.deepInclude(mismatch, { _tag: "TaskNotFound", kindMismatch: { expected: "scan", actual: "gated" } })
      const untyped = yield* a.tasks.handle(encoded.id)
      assert.deepStrictEqual([untyped.kind, yield* untyped.join], ["gated", "a"])
      assert.strictEqual((yield* a.tasks.handle("no-such-task").pipe(Effect.flip))._tag, "TaskNotFound")
      assert.strictEqual((yield* a.tasks.awaitInfo("no-such-task").pipe(Effect.flip))._tag, "TaskNotFound")
      assert.deepStrictEqual((yield* a.tasks.kinds).map((kind) => kind.name).sort(), ["gated", "hold", "numbered", "scan", "sticky", "tick"])
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
