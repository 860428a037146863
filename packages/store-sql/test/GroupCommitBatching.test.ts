/**
 * How group commit forms batches under a flush interval, on the test clock:
 * a lone write waits the interval out (from its own arrival), a batch that
 * fills up goes at once and the next one waits again, and `settled` does not
 * wait for the interval. Refused writes name their operation.
 */
import { TaskError } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Latch, Logger, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as GroupCommit from "../src/GroupCommit.ts"

/**
 * A write function that stores nothing and notes the ids of each batch it is
 * given; the progress writes of ids in `badProgress` fail on their own.
 */
const recording = (badProgress: ReadonlySet<string> = new Set(), gate?: Latch.Latch) => {
  const batches: Array<ReadonlyArray<string>> = []
  const write: GroupCommit.WriteBatch = (batch) =>
    Effect.andThen(gate === undefined ? Effect.void : gate.await, () => {
      batches.push([...batch.inserts.keys(), ...batch.updates.keys(), ...batch.progress.keys()])
      const progress = new Map(
        [...batch.progress.keys()].filter((id) => badProgress.has(id)).map((id) =>
          [id, new TaskError.TaskStoreError({ operation: "commit", detail: "bad progress" })] as const
        )
      )
      return Effect.succeed({ duplicates: new Set<string>(), failed: { inserts: new Map(), updates: new Map(), progress } })
    })
  return { batches, write }
}

/** The warnings logged while `effect` runs (its forked fibers included). */
const warnings = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
  const logged: Array<string> = []
  const collector = Logger.make(({ logLevel, message }) => {
    if (logLevel === "Warn") logged.push(String(Array.isArray(message) ? message[0] : message))
  })
  return Effect.map(Effect.provide(effect, Logger.layer([collector])), () => logged)
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

describe("settled", () => {
  it.effect("waits for a batch that is being written", () =>
    Effect.gen(function*() {
      const gate = yield* Latch.make(false)
      const { batches, write } = recording(new Set(), gate)
      const commit = yield* GroupCommit.make(write)
      const a = record()
      yield* queue(commit.insert(a))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      // The batch holding `a` is being written now; nothing is queued.
      const settled = yield* queue(commit.settled)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.isUndefined(settled.pollUnsafe(), "settled returned while a batch was being written")
      yield* gate.open
      yield* Fiber.join(settled)
      assert.deepStrictEqual(batches, [[a.id]])
    }))
})

describe("lost progress", () => {
  it.effect("a batch whose progress writes failed on their own logs how many were lost; a clean one logs nothing", () =>
    Effect.gen(function*() {
      const [a, b, c] = [record({ status: "running" }), record({ status: "running" }), record({ status: "running" })]
      const logged = yield* warnings(Effect.gen(function*() {
        const { batches, write } = recording(new Set([a.id, b.id]))
        const commit = yield* GroupCommit.make(write)
        yield* commit.update(c)
        yield* commit.updateProgress({ ...c, progress: 10 })
        yield* commit.settled
        yield* Effect.forEach([a, b], (info) => commit.updateProgress({ ...info, progress: 50 }))
        yield* commit.settled
        assert.strictEqual(batches.length, 3)
      }))
      assert.deepStrictEqual(logged, ["group commit lost 2 progress updates"])
    }))
})

describe("refused writes", () => {
  it.effect("name their operation: an insert of a queued id, and every write once the scope has closed (insertAll as an insert, updateAll as an update)", () =>
    Effect.gen(function*() {
      const { write } = recording()
      const scope = yield* Scope.make()
      const commit = yield* GroupCommit.make(write, { flushInterval: "1 hour" }).pipe(Scope.provide(scope))
      const a = record()
      yield* queue(commit.insert(a))
      const duplicate = yield* Effect.flip(commit.insert(a))
      assert.deepInclude(duplicate, { operation: "insert", detail: `task ${a.id} already exists` })
      yield* Scope.close(scope, Exit.void)
      const b = record()
      const refused = yield* Effect.all([
        Effect.flip(commit.insert(b)),
        Effect.flip(commit.insertAll([b])),
        Effect.flip(commit.update(b)),
        Effect.flip(commit.updateAll([b])),
        Effect.flip(commit.updateProgress(b))
      ])
      for (const error of refused) assert.instanceOf(error, TaskError.TaskStoreError)
      assert.deepStrictEqual(refused.map((error) => error.operation), ["insert", "insert", "update", "update", "updateProgress"])
    }))

  it.effect("insertAll refuses alone an id already queued (in any part) or repeated in the call; with every id refused it queues nothing", () =>
    Effect.gen(function*() {
      const { batches, write } = recording()
      const commit = yield* GroupCommit.make(write, { flushInterval: "1 hour" })
      const [a, b, c, d, e] = [record(), record(), record(), record(), record()]
      yield* queue(commit.insert(a))
      yield* queue(commit.update({ ...b, status: "running" }))
      yield* commit.updateProgress({ ...c, progress: 1 })
      const all = yield* queue(commit.insertAll([a, b, c, d, d, e]))
      yield* TestClock.adjust("1 hour")
      const exists = (id: string) => `task ${id} already exists`
      assert.deepStrictEqual(
        (yield* Fiber.join(all)).map((error) => error?.detail),
        [exists(a.id), exists(b.id), exists(c.id), undefined, exists(d.id), undefined]
      )
      assert.deepStrictEqual(batches, [[a.id, d.id, e.id, b.id, c.id]])
      // Every id refused: answered at once, nothing queued.
      const f = record()
      yield* queue(commit.insert(f))
      const refused = yield* queue(commit.insertAll([f, f]))
      yield* Effect.yieldNow
      assert.deepStrictEqual(refused.pollUnsafe()?._tag, "Success", "insertAll of refused ids waited for a batch")
      // insertAll alone wakes the writer: its batch is written once the interval is out.
      yield* TestClock.adjust("1 hour")
      const g = record()
      const alone = yield* queue(commit.insertAll([g]))
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(alone.pollUnsafe()?._tag, "Success", "insertAll alone was not written")
      assert.deepStrictEqual(batches.slice(1), [[f.id], [g.id]])
    }))
})
