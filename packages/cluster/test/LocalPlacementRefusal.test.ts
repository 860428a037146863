/**
 * `LocalPlacement.make` counts the workers of the supervisor `Tasks.make`
 * built, read synchronously (`Tasks.freeWorker`): a wrapper of it has no such
 * count, and a placement over one would fail at its first submission. So it is
 * refused when made, a defect naming the cause.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { TestRunner } from "effect/cluster"
import { LocalAdmission, LocalPlacement } from "@chainjobs/cluster"
import { Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"

describe("LocalPlacement.make", () => {
  it.effect("refuses a supervisor whose workers it cannot count (a wrapper of one): a defect naming it", () =>
    Effect.gen(function*() {
      const local = yield* Tasks.make.pipe(
        Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ maxWorkers: 1 })),
        Effect.provideService(TaskStore.TaskStore, yield* TaskStore.makeMemory)
      )
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(LocalPlacement.make(local, LocalAdmission.none))), "the supervisor itself")
      const exit = yield* Effect.exit(LocalPlacement.make({ ...local }, LocalAdmission.none))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), "a wrapper refused")
      if (Exit.isFailure(exit)) assert.include(String(Cause.squash(exit.cause)), "`local` is not a supervisor Tasks.make built")
    }).pipe(Effect.scoped, Effect.provide(TestRunner.layer)))
})
