/**
 * `insertAll`'s answer per record once its batch is written: the write's own
 * failure of a record, an existing id as `alreadyExists`, success for the
 * rest, and a record refused before queueing keeps its refusal — on a fake
 * write that reports one record failed alone and one id already stored.
 */
import { TaskError, TaskStore } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as GroupCommit from "../src/GroupCommit.ts"

describe("GroupCommit insertAll", () => {
  it.effect("answers each record with its own outcome: failed alone, already stored, refused before queueing, or stored", () =>
    Effect.gen(function*() {
      const [failing, existing, stored] = [record(), record(), record()]
      const failure = new TaskError.TaskStoreError({ operation: "insert", detail: "this record failed alone" })
      const write: GroupCommit.WriteBatch = () =>
        Effect.succeed({
          duplicates: new Set([existing.id]),
          failed: { inserts: new Map([[failing.id, failure]]), updates: new Map(), progress: new Map() }
        })
      const commit = yield* GroupCommit.make(write)
      const answers = yield* commit.insertAll([failing, existing, stored, stored])
      assert.strictEqual(answers[0], failure)
      assert.deepStrictEqual(answers[1], TaskStore.alreadyExists(existing.id))
      assert.isUndefined(answers[2])
      assert.deepStrictEqual(answers[3], TaskStore.alreadyExists(stored.id), "repeated in the call: refused before queueing")
    }).pipe(Effect.scoped))
})
