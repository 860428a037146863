/**
 * `submitAll` lets go of what it admitted when a later payload is refused;
 * a payload that joined a task already held (its kind's `onConflict:
 * "join"`) admitted a handle, not a task of its own, and letting go of it
 * must leave the joined task in hand: an interrupt still reaches it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Schema, Scope } from "effect"
import * as Task from "../src/Task.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { makeGates, settle, startOn } from "./fixtures.ts"

/** One task per key; a second submission of a busy key joins it. */
const Joining = Task.define("joining", {
  payload: Schema.Struct({ key: Schema.String }),
  success: Schema.String,
  policy: { key: (p: { key: string }) => p.key, onConflict: "join" }
})

describe("Tasks.submitAll refused after a join", () => {
  it.effect("leaves the joined task held: an interrupt still reaches it", () =>
    Effect.gen(function*() {
      const gateOf = makeGates()
      const live = Task.implement(Joining, ({ key }) => Effect.as(Deferred.await(gateOf(key)), key))
      const store = yield* TaskStore.makeMemory
      const { scope, tasks } = yield* startOn(store, live, { shutdownGracePeriod: 0 })
      const held = yield* tasks.submit(Joining, { key: "a" })
      yield* settle
      assert.strictEqual((yield* held.info).status, "running")
      // the first payload joins `held`, the second does not validate: the call fails and lets go of the join
      const refused = yield* Effect.flip(tasks.submitAll(Joining, [{ key: "a" }, { key: 42 }] as Array<{ key: string }>))
      assert.strictEqual(refused._tag, "InvalidPayload")
      yield* tasks.interrupt(held.id)
      yield* Deferred.succeed(gateOf("a"), undefined)
      const exit = yield* held.await
      assert.isTrue(Exit.isFailure(exit) && Exit.hasInterrupts(exit), `expected an interruption, got ${String(exit)}`)
      assert.strictEqual((yield* held.info).status, "interrupted")
      yield* Scope.close(scope, Exit.void)
    }))
})
