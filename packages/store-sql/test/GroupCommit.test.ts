import { TaskError } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Latch, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as GroupCommit from "../src/GroupCommit.ts"

/** A fake database: records every batch it is asked to write; `gate` holds writes back while closed. */
const makeDatabase = Effect.gen(function*() {
  const batches: Array<{ inserts: Array<string>; updates: Array<string>; progress: Array<[string, number]> }> = []
  const gate = yield* Latch.make(true)
  const state = {
    rejected: new Set<string>(),
    failedAlone: {
      inserts: new Map<string, TaskError.TaskStoreError>(),
      updates: new Map<string, TaskError.TaskStoreError>(),
      progress: new Map<string, TaskError.TaskStoreError>()
    },
    failure: undefined as TaskError.TaskStoreError | undefined
  }
  const write: GroupCommit.WriteBatch = (batch) =>
    Effect.andThen(
      gate.await,
      Effect.suspend(() => {
        batches.push({
          inserts: [...batch.inserts.keys()],
          updates: [...batch.updates.values()].map((info) => `${info.id}:${info.status}`),
          progress: [...batch.progress.values()].map((info) => [info.id, info.progress])
        })
        return state.failure === undefined
          ? Effect.succeed({ duplicates: state.rejected, failed: state.failedAlone })
          : Effect.fail(state.failure)
      })
    )
  return { batches, gate, state, write }
})

const fork = <A, E>(effect: Effect.Effect<A, E>) => Effect.forkChild(effect, { startImmediately: true })

describe("GroupCommit", () => {
  it.effect("writes queued within the interval share one batch, acknowledged only once it committed", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "10 millis" })
      const [a, b, c] = [record(), record(), record()]
      yield* db.gate.close
      const writes = yield* fork(Effect.all([
        commit.insert(a),
        commit.insert(b),
        commit.update({ ...c, status: "running" })
      ], { concurrency: "unbounded" }))
      yield* TestClock.adjust("9 millis")
      assert.strictEqual(db.batches.length, 0)
      yield* TestClock.adjust("1 millis")
      assert.isUndefined(writes.pollUnsafe(), "acknowledged before the batch committed")
      yield* db.gate.open
      yield* Fiber.join(writes)
      assert.deepStrictEqual(db.batches, [{ inserts: [a.id, b.id], updates: [`${c.id}:running`], progress: [] }])
    }))

  it.effect("without an interval, writes queued together share a batch that starts without the clock", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write)
      const all = [record(), record(), record()]
      // Each writer queues its update as soon as its insert is acknowledged: the three updates form the next batch.
      yield* Effect.forEach(all, (info) => Effect.andThen(commit.insert(info), commit.update({ ...info, status: "running" })), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(db.batches, [
        { inserts: all.map((info) => info.id), updates: [], progress: [] },
        { inserts: [], updates: all.map((info) => `${info.id}:running`), progress: [] }
      ])
    }))

  it.effect("a full batch is written without waiting out the interval", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "1 hour", maxBatchSize: 3 })
      yield* Effect.forEach([record(), record(), record()], commit.insert, { concurrency: "unbounded" })
      assert.strictEqual(db.batches.length, 1)
      assert.strictEqual(db.batches[0].inserts.length, 3)
    }))

  it.effect("per id the latest state change wins, and progress queued before a state change gives way to it", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "10 millis" })
      const [a, b] = [record({ status: "running" }), record({ status: "running" })]
      // In this order: each write is queued before the next starts.
      yield* commit.updateProgress({ ...a, progress: 10 })
      const running = yield* fork(commit.update({ ...a, status: "running" }))
      yield* commit.updateProgress({ ...a, progress: 20 })
      yield* commit.updateProgress({ ...a, progress: 30 })
      yield* commit.updateProgress({ ...b, progress: 5 })
      const completed = yield* fork(commit.update({ ...b, status: "completed" }))
      const failed = yield* fork(commit.update({ ...b, status: "failed" }))
      const stateChanges = yield* fork(Fiber.joinAll([running, completed, failed]))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(stateChanges)
      assert.deepStrictEqual(db.batches, [{
        inserts: [],
        updates: [`${a.id}:running`, `${b.id}:failed`],
        progress: [[a.id, 30]]
      }])
    }))

  it.effect("updateAll queues every state change into one batch awaited once: one result per record, progress queued before gives way", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "10 millis" })
      const [a, b, c] = [record({ status: "running" }), record({ status: "running" }), record({ status: "running" })]
      db.state.failedAlone.updates.set(b.id, new TaskError.TaskStoreError({ operation: "commit", detail: "not JSON" }))
      yield* commit.updateProgress({ ...a, progress: 10 })
      const all = yield* fork(commit.updateAll([{ ...a, status: "completed" }, { ...b, status: "completed" }, { ...c, status: "pending" }]))
      yield* TestClock.adjust("9 millis")
      assert.isUndefined(all.pollUnsafe(), "acknowledged before the batch was written")
      yield* TestClock.adjust("1 millis")
      const results = yield* Fiber.join(all)
      assert.deepStrictEqual(results.map((error) => error?.detail), [undefined, "not JSON", undefined])
      assert.deepStrictEqual(db.batches, [{
        inserts: [],
        updates: [`${a.id}:completed`, `${b.id}:completed`, `${c.id}:pending`],
        progress: []
      }])
    }))

  it.effect("updateAll fails as a whole when its batch does, and queues nothing when it is given nothing", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write)
      assert.deepStrictEqual(yield* commit.updateAll([]), [])
      assert.strictEqual(db.batches.length, 0)
      db.state.failure = new TaskError.TaskStoreError({ operation: "commit", detail: "connection lost" })
      const error = yield* Effect.flip(commit.updateAll([record({ status: "completed" }), record({ status: "failed" })]))
      assert.strictEqual(error.detail, "connection lost")
      assert.strictEqual(db.batches.length, 1)
    }))

  it.effect("progress is acknowledged at once and written with the next batch", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "10 millis" })
      const a = record({ status: "running" })
      yield* commit.updateProgress({ ...a, progress: 40 })
      assert.strictEqual(db.batches.length, 0)
      yield* TestClock.adjust("10 millis")
      assert.deepStrictEqual(db.batches, [{ inserts: [], updates: [], progress: [[a.id, 40]] }])
    }))

  it.effect("an insert fails when its id is already queued or already stored", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "10 millis" })
      const [queued, stored] = [record(), record()]
      db.state.rejected = new Set([stored.id])
      const first = yield* fork(commit.insert(queued))
      const again = yield* Effect.flip(commit.insert({ ...queued, kind: "other" }))
      assert.strictEqual(again._tag, "TaskStoreError")
      const existing = yield* fork(Effect.flip(commit.insert(stored)))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(first)
      assert.match((yield* Fiber.join(existing)).message, /already exists/)
      assert.deepStrictEqual(db.batches[0].inserts, [queued.id, stored.id])
    }))

  it.effect("an insert fails when an update or progress of its id is queued before it in the same batch", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "10 millis" })
      const [updated, reported] = [record({ status: "running" }), record({ status: "running" })]
      const update = yield* fork(commit.update(updated))
      yield* commit.updateProgress({ ...reported, progress: 5 })
      const inserts = yield* fork(Effect.all([
        Effect.flip(commit.insert({ ...updated, status: "pending" })),
        Effect.flip(commit.insert({ ...reported, status: "pending" }))
      ]))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(update)
      for (const error of yield* Fiber.join(inserts)) assert.match(error.message, /already exists/)
      assert.deepStrictEqual(db.batches, [{ inserts: [], updates: [`${updated.id}:running`], progress: [[reported.id, 5]] }])
    }))

  it.effect("a write that failed on its own fails only its caller", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write)
      const [good, bad, badUpdate] = [record(), record(), record()]
      db.state.failedAlone.inserts.set(bad.id, new TaskError.TaskStoreError({ operation: "commit", detail: "NOT NULL constraint failed" }))
      db.state.failedAlone.updates.set(badUpdate.id, new TaskError.TaskStoreError({ operation: "commit", detail: "not JSON" }))
      const [first, second, third] = yield* Effect.all([
        Effect.exit(commit.insert(good)),
        Effect.flip(commit.insert(bad)),
        Effect.flip(commit.update(badUpdate))
      ], { concurrency: "unbounded" })
      assert.isTrue(Exit.isSuccess(first))
      assert.strictEqual(second.detail, "NOT NULL constraint failed")
      assert.strictEqual(third.detail, "not JSON")
      assert.strictEqual(db.batches.length, 1)
    }))

  it.effect("a progress write that failed on its own fails no insert or update of the same id", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "10 millis" })
      const [a, b] = [record(), record({ status: "running" })]
      for (const info of [a, b]) {
        db.state.failedAlone.progress.set(info.id, new TaskError.TaskStoreError({ operation: "commit", detail: "not JSON" }))
      }
      const writes = yield* fork(Effect.all([commit.insert(a), commit.update(b)], { concurrency: "unbounded" }))
      yield* commit.updateProgress({ ...a, progress: 1 })
      yield* commit.updateProgress({ ...b, progress: 1 })
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(writes)
      assert.deepStrictEqual(db.batches, [{ inserts: [a.id], updates: [`${b.id}:running`], progress: [[a.id, 1], [b.id, 1]] }])
    }))

  it.effect("a failed write fails every write of its batch, and the next batch is written", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "10 millis" })
      db.state.failure = new TaskError.TaskStoreError({ operation: "commit", detail: "disk full" })
      const failed = yield* fork(Effect.all([
        Effect.flip(commit.insert(record())),
        Effect.flip(commit.update(record()))
      ], { concurrency: "unbounded" }))
      yield* TestClock.adjust("10 millis")
      assert.deepStrictEqual((yield* Fiber.join(failed)).map((error) => error.detail), ["disk full", "disk full"])
      db.state.failure = undefined
      const next = yield* fork(commit.insert(record()))
      yield* TestClock.adjust("10 millis")
      yield* Fiber.join(next)
      assert.strictEqual(db.batches.length, 2)
    }))

  it.effect("settled waits for every queued write, and returns at once when nothing is queued", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "1 hour" })
      yield* commit.settled
      yield* db.gate.close
      const info = record({ status: "running" })
      yield* commit.updateProgress({ ...info, progress: 5 })
      const settled = yield* fork(commit.settled)
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.isUndefined(settled.pollUnsafe(), "settled before the queued progress was written")
      yield* db.gate.open
      yield* Fiber.join(settled)
      assert.deepStrictEqual(db.batches, [{ inserts: [], updates: [], progress: [[info.id, 5]] }])
    }))

  it.effect("with batches in flight, the next batch starts once the one before it is placed, before it committed", () =>
    Effect.gen(function*() {
      const started: Array<string> = []
      const commits = yield* Latch.make(false)
      // Each batch is placed at once and commits only when the latch opens.
      const write: GroupCommit.WriteBatch = (batch, placed) =>
        Effect.gen(function*() {
          started.push(...batch.inserts.keys())
          yield* placed
          yield* commits.await
          return { duplicates: new Set(), failed: { inserts: new Map(), updates: new Map(), progress: new Map() } }
        })
      const commit = yield* GroupCommit.make(write, { batchesInFlight: 2 })
      const [a, b, c] = [record(), record(), record()]
      const first = yield* fork(commit.insert(a))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(started, [a.id])
      const second = yield* fork(commit.insert(b))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(started, [a.id, b.id], "the second batch waited for the first to commit")
      // Two batches in flight: a third waits for a slot.
      const third = yield* fork(commit.insert(c))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(started, [a.id, b.id])
      assert.isUndefined(first.pollUnsafe(), "acknowledged before its batch committed")
      const settled = yield* fork(commit.settled)
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.isUndefined(settled.pollUnsafe(), "settled while batches were still being written")
      yield* commits.open
      yield* Fiber.joinAll([first, second, third])
      yield* Fiber.join(settled)
      assert.deepStrictEqual(started, [a.id, b.id, c.id])
    }))

  it.effect(
    "with batches in flight, a batch sharing no id with an unplaced one starts at once; one sharing an id waits for it to be placed",
    () =>
      Effect.gen(function*() {
        const started: Array<string> = []
        const placing = yield* Latch.make(false)
        const commits = yield* Latch.make(false)
        // Each batch is placed only when `placing` opens (as a one-statement batch is placed once it committed).
        const write: GroupCommit.WriteBatch = (batch, placed) =>
          Effect.gen(function*() {
            started.push(...batch.inserts.keys(), ...[...batch.updates.values()].map((info) => `${info.id}:${info.status}`))
            yield* placing.await
            yield* placed
            yield* commits.await
            return { duplicates: new Set(), failed: { inserts: new Map(), updates: new Map(), progress: new Map() } }
          })
        const commit = yield* GroupCommit.make(write, { batchesInFlight: 3 })
        // Whatever an assertion finds, the batches then end, so that closing the store does not wait forever.
        yield* Effect.addFinalizer(() => Effect.andThen(placing.open, commits.open))
        const [a, b] = [record(), record()]
        const first = yield* fork(commit.insert(a))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        const second = yield* fork(commit.insert(b))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        assert.deepStrictEqual(started, [a.id, b.id], "a batch of other ids waited for the one before it to be placed")
        // A state change of a, whose insert is neither placed nor committed: it must not reach the database first.
        const third = yield* fork(commit.update({ ...a, status: "running" }))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        assert.deepStrictEqual(started, [a.id, b.id], "a write of a started before a's insert was placed")
        assert.isUndefined(first.pollUnsafe(), "acknowledged before its batch committed")
        yield* placing.open
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        assert.deepStrictEqual(started, [a.id, b.id, `${a.id}:running`])
        assert.isUndefined(third.pollUnsafe(), "acknowledged before its batch committed")
        yield* commits.open
        yield* Fiber.joinAll([first, second, third])
      })
  )

  it.effect("a batch waiting for an unplaced batch it shares an id with does not hold back a later batch of other ids", () =>
    Effect.gen(function*() {
      const started: Array<string> = []
      const placing = yield* Latch.make(false)
      const write: GroupCommit.WriteBatch = (batch, placed) =>
        Effect.gen(function*() {
          started.push(...batch.inserts.keys(), ...[...batch.updates.values()].map((info) => `${info.id}:${info.status}`))
          yield* placing.await
          yield* placed
          return { duplicates: new Set(), failed: { inserts: new Map(), updates: new Map(), progress: new Map() } }
        })
      const commit = yield* GroupCommit.make(write, { batchesInFlight: 4 })
      yield* Effect.addFinalizer(() => placing.open)
      const [a, c] = [record(), record()]
      const first = yield* fork(commit.insert(a))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      // Waits for a's insert to be placed.
      const second = yield* fork(commit.update({ ...a, status: "running" }))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      const third = yield* fork(commit.insert(c))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(started, [a.id, c.id], "the batch of c waited behind the batch waiting for a's insert")
      const settled = yield* fork(commit.settled)
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.isUndefined(settled.pollUnsafe(), "settled before the waiting batch was written")
      yield* placing.open
      yield* Fiber.joinAll([first, second, third, settled])
      assert.deepStrictEqual(started, [a.id, c.id, `${a.id}:running`])
    }))

  it.effect("closing the scope writes what is queued and refuses later writes", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const scope = yield* Scope.make()
      const commit = yield* GroupCommit.make(db.write, { flushInterval: "1 hour" }).pipe(Scope.provide(scope))
      const a = record()
      const queued = yield* fork(commit.insert(a))
      yield* commit.updateProgress({ ...a, progress: 1 })
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.join(queued)
      assert.deepStrictEqual(db.batches, [{ inserts: [a.id], updates: [], progress: [[a.id, 1]] }])
      const late = yield* Effect.flip(commit.update(a))
      assert.match(late.message, /closed/)
    }))
})
