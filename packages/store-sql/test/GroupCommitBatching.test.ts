/**
 * How group commit forms batches under a flush interval, on the test clock:
 * a lone write waits the interval out (from its own arrival), a batch that
 * fills up goes at once and the next one waits again, and `settled` does not
 * wait for the interval. Refused writes name their operation.
 */
import { TaskError } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as GroupCommit from "../src/GroupCommit.ts"

/** A write function that stores nothing and notes the ids of each batch it is given. */
const recording = () => {
  const batches: Array<ReadonlyArray<string>> = []
  const write: GroupCommit.WriteBatch = (batch) =>
    Effect.sync(() => {
      batches.push([...batch.inserts.keys(), ...batch.updates.keys(), ...batch.progress.keys()])
      return { duplicates: new Set(), failed: { inserts: new Map(), updates: new Map(), progress: new Map() } }
    })
  return { batches, write }
}

const queue = <A, E>(effect: Effect.Effect<A, E>) => Effect.forkChild(effect, { startImmediately: true })

describe("group commit with a flush interval", () => {
  it.effect("a write waits the interval from its arrival; a full batch goes at once and the next waits again", () =>
    Effect.gen(function*() {
      const { batches, write } = recording()
      const commit = yield* GroupCommit.make(write, { flushInterval: "10 millis", maxBatchSize: 2 })
      const [a, b, c] = [record(), record(), record()]
      yield* TestClock.adjust("5 millis")
      yield* queue(commit.insert(a))
      yield* TestClock.adjust("5 millis")
      assert.deepStrictEqual(batches, [], "written before its interval was out")
      yield* queue(commit.insert(b))
      yield* TestClock.adjust(0)
      assert.deepStrictEqual(batches, [[a.id, b.id]], "a full batch waited")
      yield* queue(commit.insert(c))
      yield* TestClock.adjust("9 millis")
      assert.deepStrictEqual(batches, [[a.id, b.id]], "the batch after a full one did not wait")
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(batches, [[a.id, b.id], [c.id]])
    }))

  it.effect("settled writes what is queued without waiting out the interval", () =>
    Effect.gen(function*() {
      const { batches, write } = recording()
      const commit = yield* GroupCommit.make(write, { flushInterval: "1 hour" })
      const a = record()
      const inserted = yield* queue(commit.insert(a))
      yield* commit.settled
      assert.deepStrictEqual(batches, [[a.id]])
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(inserted)))
    }))
})

describe("refused writes", () => {
  it.effect("name their operation: an insert of a queued id, and every write once the scope has closed", () =>
    Effect.gen(function*() {
      const { write } = recording()
      const scope = yield* Scope.make()
      const commit = yield* GroupCommit.make(write, { flushInterval: "1 hour" }).pipe(Scope.provide(scope))
      const a = record()
      yield* queue(commit.insert(a))
      const duplicate = yield* Effect.flip(commit.insert(a))
      assert.deepInclude(duplicate, { operation: "insert", message: `task ${a.id} already exists` })
      yield* Scope.close(scope, Exit.void)
      const b = record()
      const refused = yield* Effect.all([
        Effect.flip(commit.insert(b)),
        Effect.flip(commit.update(b)),
        Effect.flip(commit.updateProgress(b))
      ])
      for (const error of refused) assert.instanceOf(error, TaskError.TaskStoreError)
      assert.deepStrictEqual(refused.map((error) => error.operation), ["insert", "update", "updateProgress"])
    }))
})
