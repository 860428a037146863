/**
 * A runner as `Runner.layer` builds it, in the test process on a fresh
 * PostgreSQL database (`InProcessCluster.ts`): runners starting together on
 * a fresh database take turns making its tables; the runner running a task
 * names itself in the records it holds, not only in those it writes; a
 * runner stopping refuses new work while it hands its tasks over.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import type { TaskInfo } from "@chainjobs/tasks"
import { eventually, Gated, idOn, makeCluster, settled, Sticky, type TestCluster } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** Waits until the kinds recorded `event` of task `id`. */
const happened = (cluster: TestCluster, id: string, event: "start" | "finalizer") =>
  eventually(
    Effect.sync(() => cluster.happenings.some((h) => h.event === event && h.task === id)),
    () => `${event} of ${id}: ${JSON.stringify(cluster.happenings)}`
  )

describe.skipIf(pgTestUrl === undefined)("Runner.layer", () => {
  it.live("runners starting together on a fresh database both start and share the shards; the owner's own reads of a task name it", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      // at once: without taking turns, one runner's CREATE TABLE would fail on the other's
      const [a, b] = yield* Effect.all([cluster.start("a"), cluster.start("b")], { concurrency: "unbounded" })
      yield* settled([a, b])
      const id = yield* idOn(a)
      const task = yield* b.tasks.submit(Gated, { gate: "g" }, { id })
      yield* eventually(Effect.map(Effect.orDie(a.tasks.get(id)), (info) => info.status === "running"), () => "the task runs")
      // read where it runs, from the supervisor's memory
      assert.strictEqual((yield* a.tasks.get(id)).runner, a.address)
      const watched: Array<TaskInfo.TaskInfo> = []
      const watch = yield* Effect.forkScoped(Stream.runForEach(a.tasks.watch(id), (info) => Effect.sync(() => watched.push(info))))
      yield* eventually(Effect.sync(() => watched.length > 0), () => "the watch begins")
      yield* cluster.open("g")
      assert.strictEqual((yield* a.tasks.awaitInfo(id)).runner, a.address)
      yield* Fiber.join(watch)
      assert.deepStrictEqual(watched.map((info) => info.runner), watched.map(() => a.address))
      assert.strictEqual(yield* task.join, "a")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a runner stopping refuses new submissions as shutting down while it hands its tasks over", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      yield* settled([a])
      const sticky = yield* a.tasks.submit(Sticky, { gate: "release" })
      yield* happened(cluster, sticky.id, "start")
      const stopping = yield* Effect.forkScoped(a.stop)
      // handing the sticky task over: its finalizer waits for the gate
      yield* happened(cluster, sticky.id, "finalizer")
      const refused = yield* a.tasks.submit(Gated, { gate: "late" }).pipe(Effect.flip)
      assert.deepInclude(refused, { _tag: "SubmitRejected", reason: "shutting-down", kind: "gated" })
      yield* cluster.open("release")
      yield* Fiber.join(stopping)
      // left pending for the next owner, which runs it again
      const b = yield* cluster.start("b")
      yield* eventually(
        Effect.sync(() => cluster.happenings.filter((h) => h.task === sticky.id && h.event === "start").length === 2),
        () => `b runs the sticky task again: ${JSON.stringify(cluster.happenings)}`
      )
      assert.strictEqual(cluster.happenings.filter((h) => h.task === sticky.id).at(-1)!.runner, "b")
      assert.deepStrictEqual((yield* b.tasks.list({ kind: ["gated"] })).items, [], "the refused task was not recorded")
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
