import { TaskError, type TaskInfo } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Latch } from "effect"
import * as GroupCommit from "../src/GroupCommit.ts"

const stored: GroupCommit.BatchResult = { duplicates: new Set(), failed: { inserts: new Map(), updates: new Map(), progress: new Map() } }

/**
 * A fake database for pipelining: it writes one batch at a time (the first
 * only once `gate` opens), each write ending a yield after it started, and
 * records, per batch, its writes and how many writers had resumed when it
 * started. The first batch writing `failing.id` fails with `failing.error`.
 */
const makeDatabase = Effect.gen(function*() {
  const gate = yield* Latch.make(false)
  const state = {
    batches: [] as Array<{ readonly writes: Array<string>; readonly resumedBefore: number }>,
    /** The writes whose batch's write returned. */
    committed: new Set<string>(),
    resumed: 0,
    inFlight: 0,
    maxInFlight: 0,
    failing: undefined as { readonly id: string; readonly error: TaskError.TaskStoreError } | undefined
  }
  const write: GroupCommit.WriteBatch = (batch) =>
    Effect.gen(function*() {
      const writes = [...batch.inserts.keys(), ...[...batch.updates.values()].map((info) => `${info.id}:${info.status}`)]
      state.batches.push({ writes, resumedBefore: state.resumed })
      state.inFlight++
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight)
      yield* gate.await
      yield* Effect.yieldNow
      state.inFlight--
      const failing = state.failing
      if (failing !== undefined && writes.includes(failing.id)) {
        state.failing = undefined
        return yield* Effect.fail(failing.error)
      }
      for (const done of writes) state.committed.add(done)
      return stored
    })
  return { gate, state, write }
})

/** Forks `writers` writers that each insert a record, then queue its state change as soon as the insert is acknowledged (as a task that starts does). */
const lockstep = (commit: GroupCommit.GroupCommit, db: Effect.Success<typeof makeDatabase>, infos: ReadonlyArray<TaskInfo.TaskInfo>) => {
  /** Writers that resumed before their write's batch returned: none may. */
  const early: Array<string> = []
  const fiber = Effect.forkChild(Effect.forEach(infos, (info) =>
    Effect.gen(function*() {
      const inserted = yield* Effect.exit(commit.insert(info))
      if (!db.state.committed.has(info.id)) early.push(info.id)
      db.state.resumed++
      if (Exit.isFailure(inserted)) return
      const running = `${info.id}:running`
      yield* commit.update({ ...info, status: "running" })
      if (!db.state.committed.has(running)) early.push(running)
    }), { concurrency: "unbounded", discard: true }))
  return Effect.map(fiber, (writers) => ({ writers, early }))
}

describe("GroupCommit pipelining", () => {
  it.effect("a committed batch's writers resume group by group, the next batch starting between groups, after the batch before it committed", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { resumeGroupSize: 2 })
      // A first batch held at the gate, so that the six inserts queued meanwhile form the next one.
      const first = record()
      const held = yield* Effect.forkChild(commit.insert(first))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      const infos = Array.from({ length: 6 }, () => record())
      const { early, writers } = yield* lockstep(commit, db, infos)
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      yield* db.gate.open
      yield* Fiber.join(held)
      yield* Fiber.join(writers)
      const running = (info: TaskInfo.TaskInfo) => `${info.id}:running`
      assert.deepStrictEqual(db.state.batches, [
        { writes: [first.id], resumedBefore: 0 },
        { writes: infos.map((info) => info.id), resumedBefore: 0 },
        // The first group's state changes are on their way while the other four writers have yet to resume.
        { writes: infos.slice(0, 2).map(running), resumedBefore: 2 },
        { writes: infos.slice(2).map(running), resumedBefore: 6 }
      ])
      assert.deepStrictEqual(early, [], "writers resumed before their batch committed")
      assert.strictEqual(db.state.maxInFlight, 1, "two batches were written at once")
    }))

  it.effect("a failed batch fails the writers of every group; the batch started between its groups is written", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const commit = yield* GroupCommit.make(db.write, { resumeGroupSize: 2 })
      const first = record()
      const held = yield* Effect.forkChild(commit.insert(first))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      const infos = Array.from({ length: 6 }, () => record())
      db.state.failing = { id: infos[0].id, error: new TaskError.TaskStoreError({ operation: "commit", detail: "the disk is full" }) }
      // Each writer whose insert failed writes it again: the first group's retries start between the failed batch's groups.
      const outcomes = yield* Effect.forkChild(Effect.forEach(infos, (info) =>
        Effect.gen(function*() {
          const inserted = yield* Effect.exit(commit.insert(info))
          db.state.resumed++
          const retried = yield* Effect.exit(commit.insert(info))
          return [Exit.isFailure(inserted), Exit.isSuccess(retried)]
        }), { concurrency: "unbounded" }))
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      // The first batch commits; the next one (the six inserts) fails.
      yield* db.gate.open
      yield* Fiber.join(held)
      assert.deepStrictEqual(yield* Fiber.join(outcomes), infos.map(() => [true, true]))
      assert.deepStrictEqual(db.state.batches.slice(1), [
        { writes: infos.map((info) => info.id), resumedBefore: 0 },
        { writes: infos.slice(0, 2).map((info) => info.id), resumedBefore: 2 },
        { writes: infos.slice(2).map((info) => info.id), resumedBefore: 6 }
      ])
      assert.deepStrictEqual([...db.state.committed].sort(), [first.id, ...infos.map((info) => info.id)].sort())
    }))

  it.effect("a count setting that is not a whole number of at least 1 fails make with GroupCommitConfigError; an Infinity resume group size is every writer at once", () =>
    Effect.gen(function*() {
      const db = yield* makeDatabase
      const bad: ReadonlyArray<GroupCommit.GroupCommitConfig> = [
        { resumeGroupSize: 2.5 },
        { resumeGroupSize: Number.NaN },
        { resumeGroupSize: 0 },
        { batchesInFlight: 1.5 },
        { batchesInFlight: Number.POSITIVE_INFINITY },
        { maxBatchSize: -1 }
      ]
      for (const config of bad) {
        const error = yield* Effect.flip(Effect.scoped(GroupCommit.make(db.write, config)))
        assert.instanceOf(error, GroupCommit.GroupCommitConfigError)
        const [setting, value] = Object.entries(config)[0]
        assert.deepStrictEqual([error.setting, error.value], [setting, String(value)])
        assert.strictEqual(error.message, `${setting} must be a whole number of at least 1, not ${value}`)
      }
      // Every writer at once, said outright, is a valid group size.
      const commit = yield* GroupCommit.make(db.write, { resumeGroupSize: Number.POSITIVE_INFINITY, batchesInFlight: 1, maxBatchSize: 1 })
      yield* db.gate.open
      yield* commit.insert(record())
      assert.strictEqual(db.state.batches.length, 1)
    }))
})
