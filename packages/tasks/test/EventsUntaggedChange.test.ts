/**
 * A change that is no task event (a running task handed off, stored back as
 * pending) reaches the record streams (`changes`) but not the event stream
 * (`events`): only tagged events are told there.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Ref, Scope, Stream } from "effect"
import * as TaskStore from "../src/TaskStore.ts"
import { Gate, gateLive, settle, startOn } from "./fixtures.ts"

describe("the event stream and a change that is no event", () => {
  it.effect("a task handed off is told to changes as pending, and to events not at all", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const gates = yield* gateLive
      const { scope, tasks } = yield* startOn(store, gates.layer)
      const events = yield* Ref.make<ReadonlyArray<string | undefined>>([])
      const changes = yield* Ref.make<ReadonlyArray<string>>([])
      const following = yield* Effect.forkChild(Stream.runForEach(tasks.events, (event) =>
        Ref.update(events, (seen) => [...seen, event._tag])))
      const followingChanges = yield* Effect.forkChild(Stream.runForEach(tasks.changes, (info) =>
        Ref.update(changes, (seen) => [...seen, info.status])))
      yield* settle
      const handle = yield* tasks.submit(Gate, { id: "g" })
      yield* settle
      yield* tasks.handOff(handle.id)
      yield* settle
      assert.deepStrictEqual(yield* Ref.get(changes), ["pending", "running", "pending"])
      assert.deepStrictEqual(yield* Ref.get(events), ["Submitted", "Started"])
      yield* Fiber.interrupt(following)
      yield* Fiber.interrupt(followingChanges)
      yield* Scope.close(scope, Exit.void)
    }))
})
