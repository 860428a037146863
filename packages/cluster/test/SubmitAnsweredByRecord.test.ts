/**
 * A `Submit` whose handler the owner interrupted is answered by the task's
 * record (`ClusterTasks.answeredByRecord`): its id when this submission
 * recorded it. A caller-chosen id another submission recorded before is not
 * this submission's record: the caller is told it already exists, as the owner
 * tells it when nothing interrupts its handler, never the id as if its own
 * submission had been admitted. Runners of `Runner.layer` in the test process
 * (`InProcessCluster.ts`) on PostgreSQL; the owner's insert of the second
 * submission is interrupted by the test (the fault injected), as an entity
 * ending interrupts a handler that has not answered.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import type { TaskStore } from "@chainjobs/tasks"
import { idOn, makeCluster, settled, Tick } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("a submission whose handler its owner interrupted", () => {
  it.live("is refused as already existing when another submission recorded its caller-chosen id before", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      // b's inserts of the ids in `interrupted` are interrupted: its handler of their Submit ends so
      const interrupted = new Set<string>()
      let inserts = 0
      const interruptedInsert = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
        ...store,
        insert: (info) =>
          interrupted.has(info.id) ? Effect.andThen(Effect.sync(() => inserts++), Effect.interrupt) : store.insert(info)
      })
      const a = yield* cluster.start("a")
      yield* settled([a])
      const b = yield* cluster.start("b", { storeFault: interruptedInsert })
      yield* settled([a, b])
      // an id b owns, submitted through a: sent to b's entity
      const id = yield* idOn(b, "chosen")
      const first = yield* a.tasks.submit(Tick, { n: 1 }, { id })
      assert.strictEqual(first.id, id)
      assert.strictEqual((yield* a.tasks.awaitInfo(id)).status, "completed")

      // The same id again: b's handler is interrupted at its insert, the first submission's record there.
      interrupted.add(id)
      const again = yield* Effect.exit(a.tasks.submit(Tick, { n: 2 }, { id }))
      assert.strictEqual(inserts, 1, "b tried to insert the second submission once")
      assert.isTrue(Exit.isFailure(again), `the second submission was answered with ${JSON.stringify(Exit.isSuccess(again) && again.value.id)}`)
      if (Exit.isFailure(again)) {
        const told = Cause.pretty(again.cause)
        assert.include(told, `task ${id} already exists`)
      }
      // the record is still the first submission's
      assert.deepInclude(yield* a.tasks.get(id), { status: "completed", payload: { n: 1 } })
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("is sent again when it recorded nothing, and answered with its id when it recorded its task", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      // b's first insert of `before` is interrupted before it writes; its inserts of `after` write, then are interrupted
      let before = ""
      let after = ""
      const inserts = new Map<string, number>()
      const interruptedInsert = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
        ...store,
        insert: (info) =>
          Effect.suspend(() => {
            const n = (inserts.get(info.id) ?? 0) + 1
            inserts.set(info.id, n)
            if (info.id === before && n === 1) return Effect.interrupt
            if (info.id === after) return Effect.andThen(store.insert(info), Effect.interrupt)
            return store.insert(info)
          })
      })
      const a = yield* cluster.start("a")
      yield* settled([a])
      const b = yield* cluster.start("b", { storeFault: interruptedInsert })
      yield* settled([a, b])
      // ids b owns, each new, submitted through a: sent to b's entity
      before = yield* idOn(b, "before")
      after = yield* idOn(b, "after")

      // nothing recorded by the interrupted handler: sent again, as a refusal is, and admitted by the second
      const resent = yield* a.tasks.submit(Tick, { n: 1 }, { id: before })
      assert.strictEqual(resent.id, before)
      assert.strictEqual(inserts.get(before), 2, "b's handler tried the insert again")
      assert.strictEqual((yield* a.tasks.awaitInfo(before)).status, "completed")

      // recorded by this very submission before its handler was interrupted: its own id, not sent again
      const recorded = yield* a.tasks.submit(Tick, { n: 2 }, { id: after })
      assert.strictEqual(recorded.id, after)
      assert.strictEqual(inserts.get(after), 1, "b's handler inserted it once")
      assert.deepInclude(yield* a.tasks.get(after), { payload: { n: 2 } })
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
