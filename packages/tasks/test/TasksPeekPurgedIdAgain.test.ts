/**
 * A purge notes only the purged tasks the supervisor still holds (their
 * final record committed, their release to come) as not to be kept for
 * `Tasks.peek`: a purged task already let go is not noted, so a later task of
 * the same caller-chosen id, once finished, is answered from memory as any
 * other (and the notes never outgrow the tasks held).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeId } from "../src/TaskInfo.ts"
import * as Tasks from "../src/Tasks.ts"
import { Add, AddLive, supervisor } from "./fixtures.ts"

describe("Tasks.peek and an id purged, then used again", () => {
  it.effect("a finished task whose id was purged before it was submitted is answered from memory", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const id = makeId(Date.now())
      yield* Effect.flatMap(tasks.submit(Add, { a: 1, b: 2 }, { id }), (handle) => handle.join)
      assert.strictEqual(yield* tasks.purge({ status: ["completed"] }), 1)
      assert.isUndefined(Tasks.peek(tasks, id))
      yield* Effect.flatMap(tasks.submit(Add, { a: 2, b: 3 }, { id }), (handle) => handle.join)
      assert.strictEqual(Tasks.peek(tasks, id)?.result, 5)
    }).pipe(Effect.provide(supervisor(AddLive))))
})
