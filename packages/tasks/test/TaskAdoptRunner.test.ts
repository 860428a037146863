/**
 * A task taken back from another process (`adopt`) runs here: what this process tells of it — its reads while it
 * runs, and the records it writes — no longer names the runner that ran it before (`lifecycle.recover`'s
 * `heldHere`). In a cluster the runner's own view of the store names itself instead; a single process names none.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Scope } from "effect"
import { TaskStore } from "../src/index.ts"
import { Gate, gateLive, settle, startOn, testConfig } from "./fixtures.ts"
import { record } from "./TaskStoreConformance.ts"

describe("adopt of a record another runner held", () => {
  it.effect("is read and stored without that runner once it runs here", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, gates.layer, testConfig)
      const left = record({ kind: Gate.name, payload: { id: "left" }, runner: "127.0.0.1:40001" })
      yield* store.insert(left)
      yield* tasks.adopt(left.id)
      yield* settle
      const running = yield* tasks.get(left.id)
      assert.strictEqual(running.status, "running")
      assert.isFalse("runner" in running, `read while it runs here: ${JSON.stringify(running)}`)
      yield* gates.open("left")
      yield* settle
      const done = Option.getOrThrow(yield* store.get(left.id))
      assert.strictEqual(done.status, "completed")
      assert.isFalse("runner" in done, `stored once finished here: ${JSON.stringify(done)}`)
      yield* Scope.close(scope, Exit.void)
    }))
})
