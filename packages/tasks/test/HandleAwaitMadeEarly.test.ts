/**
 * A submission's handle whose `await` effect was made while its task ran:
 * run after the task finished here and its record was deleted, it still
 * tells the outcome from the final record this process committed (looked up
 * when it runs, not when it was made), not `TaskNotFound`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Scope } from "effect"
import * as TaskStore from "../src/TaskStore.ts"
import { Gate, gateLive, settle, startOn } from "./fixtures.ts"

describe("a handle's await made before its task finished", () => {
  it.effect("tells the committed outcome after the record is deleted", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, gates.layer)
      const handle = yield* tasks.submit(Gate, { id: "g" })
      yield* settle
      assert.strictEqual((yield* handle.status), "running")
      // Made now, while the task runs: no final record yet.
      const awaiting = handle.await
      yield* gates.open("g")
      yield* settle
      assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).status, "completed")
      yield* tasks.delete(handle.id)
      assert.deepStrictEqual(yield* awaiting, Exit.succeed("g"))
      yield* Scope.close(scope, Exit.void)
    }))
})
