/**
 * The retention sweeper purges a finished record once its retention has run
 * out (a record expiring exactly now included), and a sweep the store fails
 * is tried again at the next interval instead of ending the sweeps.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import { TaskStoreError } from "../src/TaskError.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { settle, startOn } from "./fixtures.ts"

/** Finishes at once; its records are kept for one minute. */
const Brief = Task.define("brief", {
  payload: Schema.Struct({}),
  success: Schema.Void,
  policy: { retention: "1 minute" }
})
const BriefLive = Task.implement(Brief, () => Effect.void)

/** A memory store whose first `failures` purges fail, as a database that is briefly unreachable would. */
const flakyPurges = (failures: number) =>
  Effect.map(TaskStore.makeMemory, (store) => {
    let left = failures
    const purges: Array<number | undefined> = []
    const flaky: TaskStore.TaskStore["Service"] = {
      ...store,
      purge: (filter) =>
        Effect.suspend(() => {
          purges.push(filter.expiredBy)
          return left-- > 0
            ? Effect.fail(new TaskStoreError({ operation: "purge", detail: "the database is unreachable" }))
            : store.purge(filter)
        })
    }
    return { store: flaky, purges }
  })

describe("the retention sweeper", () => {
  it.effect("sweeps every interval, purges a record whose retention ran out, and goes on after a failed sweep", () =>
    Effect.gen(function*() {
      const { purges, store } = yield* flakyPurges(2)
      const { scope, tasks } = yield* startOn(store, BriefLive, { retentionSweepInterval: "20 seconds" })
      const brief = yield* tasks.submit(Brief, {})
      yield* settle
      assert.strictEqual((yield* brief.info).expiresAt, 60_000)
      // The sweeps at 0 and 20 s fail; the one at 40 s finds nothing expired; the one at 60 s purges the record.
      for (let i = 0; i < 2; i++) {
        yield* TestClock.adjust("20 seconds")
        yield* settle
        assert.isTrue(Option.isSome(yield* store.get(brief.id)))
      }
      yield* TestClock.adjust("20 seconds")
      yield* settle
      assert.isTrue(Option.isNone(yield* store.get(brief.id)))
      assert.deepStrictEqual(purges, [0, 20_000, 40_000, 60_000])
      yield* Scope.close(scope, Exit.void)
    }))
})
