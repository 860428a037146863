/**
 * A task admitted by the entity (`TaskEntity`'s `Submit`) while its runner
 * is already closing: its `Run` is refused there (the runner takes no new
 * work), so the runner's hand-over of the tasks it serves does not know it —
 * the entity itself hands it over when it ends (its finalizer), and the runner
 * taking its shard adopts and runs it. Without that, the supervisor's own
 * shutdown would stop it after its grace period as `interrupted`: a task
 * whose submission was acknowledged, lost. Runners of `Runner.layer` in the
 * test process (`InProcessCluster.ts`) on PostgreSQL; the closing runner's
 * insert of the task is held (a store fault) until its close has begun, and
 * the close is held open by a task whose hand-over waits on a gate (`Sticky`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import type { TaskStore } from "@chainjobs/tasks"
import { eventually, Gated, idOn, makeCluster, settled, snapshot, Sticky, story, within } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** A store whose insert of the task named by `target` begins (`begun`), then waits until `release` opens. */
const heldInsert = (target: () => string | undefined) => {
  const begun = Deferred.makeUnsafe<void>()
  const release = Deferred.makeUnsafe<void>()
  const wrap = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
    ...store,
    insert: (info) =>
      info.id !== target()
        ? store.insert(info)
        : Effect.andThen(Deferred.succeed(begun, undefined), Effect.andThen(Deferred.await(release), store.insert(info)))
  })
  return { begun, release, wrap }
}

describe.skipIf(pgTestUrl === undefined)("a task admitted while its runner closes", () => {
  it.live("is handed over by its entity when the entity ends, and runs to its end on the runner taking its shard", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const b = yield* cluster.start("b")
      let late: string | undefined
      const fault = heldInsert(() => late)
      const a = yield* cluster.start("a", { storeFault: fault.wrap })
      yield* settled([a, b])
      // served on a: the runner's close hands it over, and waits for its finalizer (gate "sticky") meanwhile
      const sticky = yield* a.tasks.submit(Sticky, { gate: "sticky" }, { id: yield* idOn(a, "sticky") })
      yield* eventually(
        Effect.sync(() => story(cluster, sticky.id).includes("start a 1")),
        () => `the sticky task starts on a: ${JSON.stringify(story(cluster, sticky.id))}`
      )
      // submitted through b to a's entity, whose insert of it waits
      late = yield* idOn(a, "late")
      const id = late
      // what each unbounded wait below saw should it hang: both runners' shards and tasks, both tasks' records
      const seen = snapshot(cluster, [a, b], b, [sticky.id, id])
      const submitting = yield* Effect.forkScoped(b.tasks.submit(Gated, { gate: "late" }, { id }))
      yield* within(Deferred.await(fault.begun), "a's insert of the late task begins (submitted through b)", seen)
      // a closes: it refuses new work and hands the sticky task over, whose finalizer holds the close open
      const stopping = yield* Effect.forkScoped(a.stop)
      yield* eventually(
        Effect.sync(() => story(cluster, sticky.id).includes("finalizer a 1")),
        () => `a's close hands the sticky task over: ${JSON.stringify(story(cluster, sticky.id))}`
      )
      // the insert goes on: the task is admitted on a closing runner, and its submission acknowledged
      yield* Deferred.succeed(fault.release, undefined)
      const handle = yield* within(Fiber.join(submitting), "the late task's submission through b is answered", seen)
      assert.strictEqual(handle.id, id)
      yield* cluster.open("sticky")
      yield* within(Fiber.join(stopping), "a's stop ends (its tasks handed over, its shards released)", seen)
      // handed over, not run out as interrupted by a's shutdown: b adopts it and runs it to its end
      yield* cluster.open("late")
      const info = yield* within(b.tasks.awaitInfo(id), "b's join of the late task ends", snapshot(cluster, [b], b, [sticky.id, id]))
      assert.deepInclude(info, { status: "completed", result: "b", runner: b.address })
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
