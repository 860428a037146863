/**
 * With batches in flight, which batch waits for which: a new batch starts at
 * once unless it writes an id that a batch being written, not yet placed,
 * writes too — whichever part of either batch holds the id (an insert, a
 * state change, progress), and whichever of the two batches is the bigger
 * (the check walks the smaller one's ids). A batch that waits starts once
 * that batch is placed, so each id's writes reach the database in the order
 * they were queued.
 */
import type { TaskInfo } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Latch } from "effect"
import { TestClock } from "effect/testing"
import * as GroupCommit from "../src/GroupCommit.ts"

type Part = keyof GroupCommit.Batch

const parts: ReadonlyArray<Part> = ["inserts", "updates", "progress"]

const stored: GroupCommit.BatchResult = { duplicates: new Set(), failed: { inserts: new Map(), updates: new Map(), progress: new Map() } }

/** Queues `infos` as writes of `part`, all into the pending batch at once. */
const queueIn = (commit: GroupCommit.GroupCommit, part: Part, infos: ReadonlyArray<TaskInfo.TaskInfo>): Effect.Effect<unknown, unknown> =>
  part === "inserts"
    ? commit.insertAll(infos)
    : part === "updates"
    ? commit.updateAll(infos.map((info) => ({ ...info, status: "running" as const })))
    : Effect.forEach(infos, (info) => commit.updateProgress({ ...info, progress: 1 }), { discard: true })

/** Every combination: the part of each batch, whether the second shares an id with the first, which one is bigger. */
const cases = parts.flatMap((first) =>
  parts.flatMap((second) =>
    [true, false].flatMap((shares) =>
      [[1, 3], [3, 1]].map(([firstSize, secondSize]) => ({ first, second, shares, firstSize, secondSize }))
    )
  )
)

describe("GroupCommit with batches in flight", () => {
  it.effect("a batch waits for an unplaced batch exactly when the two write an id in common, in any part, whichever is bigger", () =>
    Effect.forEach(cases, ({ first, second, shares, firstSize, secondSize }) =>
      Effect.scoped(Effect.gen(function*() {
        const name = `${firstSize} ${first}, then ${secondSize} ${second}${shares ? " sharing an id" : ""}`
        /** The ids of each batch the database was asked to write, in the order the writes started. */
        const started: Array<Array<string>> = []
        const placing = yield* Latch.make(false)
        // Each batch is placed only when `placing` opens.
        const write: GroupCommit.WriteBatch = (batch, placed) =>
          Effect.gen(function*() {
            started.push([...batch.inserts.keys(), ...batch.updates.keys(), ...batch.progress.keys()])
            yield* placing.await
            yield* placed
            return stored
          })
        // A batch is taken once the interval ran out (the test clock's), so each call's writes form one batch.
        const commit = yield* GroupCommit.make(write, { batchesInFlight: 2, flushInterval: "1 hour" })
        // Whatever an assertion finds, the batches then end, so that closing the scope does not wait forever.
        yield* Effect.addFinalizer(() => placing.open)
        const firstInfos = Array.from({ length: firstSize }, () => record())
        const secondInfos = Array.from({ length: secondSize }, () => record())
        if (shares) secondInfos[secondSize - 1] = firstInfos[firstSize - 1]
        const writes = [yield* Effect.forkChild(queueIn(commit, first, firstInfos), { startImmediately: true })]
        yield* TestClock.adjust("1 hour")
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        assert.strictEqual(started.length, 1, `${name}: the first batch did not start`)
        writes.push(yield* Effect.forkChild(queueIn(commit, second, secondInfos), { startImmediately: true }))
        yield* TestClock.adjust("1 hour")
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        assert.strictEqual(
          started.length,
          shares ? 1 : 2,
          shares ? `${name}: started before the batch it shares an id with was placed` : `${name}: waited for a batch of other ids`
        )
        yield* placing.open
        yield* TestClock.adjust("1 hour")
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        // The database answers at once now: a write still waiting would wait for good.
        assert.deepStrictEqual(
          writes.map((fiber) => fiber.pollUnsafe() === undefined ? "waiting" : "done"),
          ["done", "done"],
          `${name}: the writes once both batches could be placed (batches started: ${JSON.stringify(started.map((ids) => ids.length))})`
        )
        yield* Fiber.joinAll(writes)
        yield* commit.settled
        assert.deepStrictEqual(
          started.map((ids) => ids.length),
          [firstSize, secondSize],
          `${name}: the batches written`
        )
      })), { discard: true }))
})
