/**
 * Adoption over a task store that fails a read now and then (`TaskEntity`'s
 * `Run`): a runner taking over a task reads its record first, and a read the
 * store refuses (`TaskStoreError`: a connection lost, a failover) is tried
 * again a few times before the task is given up to the next adoption, so a
 * passing fault does not leave a task unrun. Runners of `Runner.layer` in the
 * test process (`InProcessCluster.ts`) on PostgreSQL; the fault is injected
 * into the adopting runner's store: its first reads of the task are refused.
 *
 * Without the retry the task is still adopted, later: `Run` dies, the entity
 * restarts and the cluster delivers its persisted `Run` again. What the retry
 * saves is the restart, which hands over every other task that entity serves
 * (a bucket's tasks share one): each would lose its attempt. Likewise a task
 * whose record is deleted between adoption's read of the unfinished records
 * and its `Run`: there is nothing to run, and the entity goes on serving the
 * others.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Option } from "effect"
import { TaskError, type TaskStore } from "@chainjobs/tasks"
import { eventually, Gated, makeCluster, sameBucket, Scan, settled } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/**
 * A store whose first `times` reads of a task named by `target()` are refused, the first after `delay` (a read that
 * hangs, then fails); `refused` counts them.
 */
const refusingReads = (times: number, target: () => string | undefined, delay: Duration.Input) => {
  const faults = { refused: 0 }
  const wrap = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
    ...store,
    get: (id) =>
      Effect.suspend(() => {
        if (id !== target() || faults.refused >= times) return store.get(id)
        const refusal = Effect.fail(new TaskError.TaskStoreError({ operation: "get", detail: "refused by the test" }))
        return faults.refused++ === 0 ? Effect.andThen(Effect.sleep(delay), refusal) : refusal
      })
  })
  return { faults, wrap }
}

/**
 * A cluster whose runner a ran two tasks of one bucket entity — a scan, and a task waiting on gate `gate` — and
 * stopped, leaving both to the next runner started.
 */
const bucketLeft = (gate: string) =>
  Effect.gen(function*() {
    const cluster = yield* makeCluster
    const a = yield* cluster.start("a")
    yield* settled([a])
    const scan = yield* a.tasks.submit(Scan, { gate: "scan", from: 1, to: 1 }, { id: "scan-task" })
    const other = yield* a.tasks.submit(Gated, { gate }, { id: sameBucket("scan-task") })
    yield* eventually(Effect.map(a.status.tasks, (tasks) => tasks.running === 2), () => "both run on a")
    yield* a.stop
    return { cluster, scan, other }
  })

describe.skipIf(pgTestUrl === undefined)("adoption over a failing store", () => {
  it.live("a refused read of one task leaves the other tasks its entity serves running", () =>
    Effect.gen(function*() {
      // two tasks of one bucket entity: a scan, and a task whose reads b's store will refuse
      const { cluster, other: refused, scan } = yield* bucketLeft("refused")
      // the first refusal comes a second after the read began: the scan is adopted and running by then
      let id: string | undefined = refused.id
      const { faults, wrap } = refusingReads(2, () => id, "1 second")
      const b = yield* cluster.start("b", { storeFault: wrap })
      yield* eventually(
        Effect.map(b.status.tasks, (tasks) => tasks.running === 2),
        () => `b never ran both tasks it adopted (${faults.refused} reads refused)`
      )
      id = undefined
      yield* Effect.forEach(["scan/1", "refused"], cluster.open)
      // adopted once from a, and never handed over on b: its second attempt ends it
      assert.deepInclude(yield* b.tasks.awaitInfo(scan.id), { status: "completed", result: 1, attempt: 2, runner: b.address })
      assert.deepInclude(yield* b.tasks.awaitInfo(refused.id), { status: "completed", result: "b", runner: b.address })
      assert.strictEqual(faults.refused, 2)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a task deleted between adoption's read and its Run is not run, and the other tasks its entity serves keep running", () =>
    Effect.gen(function*() {
      const { cluster, other: gone, scan } = yield* bucketLeft("gone")
      // b's first read of the task, a second after it began (the scan is adopted and running by then), finds its
      // record deleted meanwhile
      const deletions = { done: 0 }
      const deleting = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
        ...store,
        get: (id) =>
          id !== gone.id || deletions.done > 0
            ? store.get(id)
            : Effect.andThen(Effect.sleep("1 second"), Effect.andThen(store.remove(id), Effect.suspend(() => (deletions.done++, store.get(id)))))
      })
      const b = yield* cluster.start("b", { storeFault: deleting })
      yield* eventually(Effect.map(b.status.tasks, (tasks) => tasks.running === 1 && deletions.done === 1), () => `b never ran the scan alone (${deletions.done} deletions)`)
      // the entity goes on: the scan is not handed over (a restart of the entity would stop it at its checkpoint,
      // as it does within milliseconds of a defect), looked at every 50 ms for 3 s
      for (let look = 0; look < 60; look++) {
        const now = yield* b.tasks.get(scan.id)
        assert.deepInclude(now, { status: "running", attempt: 2 }, `look ${look}: the scan was handed over`)
        yield* Effect.sleep("50 millis")
      }
      yield* cluster.open("scan/1")
      // adopted once from a, and never handed over on b: its second attempt ends it
      assert.deepInclude(yield* b.tasks.awaitInfo(scan.id), { status: "completed", result: 1, attempt: 2, runner: b.address })
      assert.isTrue(Option.isNone(yield* b.store.get(gone.id)))
      assert.deepStrictEqual(
        cluster.happenings.filter((happening) => happening.task === scan.id && happening.event === "start").map((happening) => `${happening.runner} ${happening.attempt}`),
        ["a 1", "b 2"]
      )
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
