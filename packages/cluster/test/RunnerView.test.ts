/**
 * `Runner.runnerView`, the store as a runner's own supervisor sees it, over
 * the memory store: every record written names the runner (inserted, updated,
 * in a batch, as progress), a record naming it already passes as it is (no
 * copy, nor of a batch all of whose records name it), a batch method the
 * store lacks stays missing, and nothing is unfinished at start, whatever the
 * store holds (recovery is the shard owner's).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Runner } from "@chainjobs/cluster"
import { TaskInfo, TaskStore } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"

const runner = "10.0.0.1:3400"

/** A pending record of a fresh task, naming runner `named` if given. */
const recordOf = (named?: string): TaskInfo.TaskInfo =>
  record({ id: TaskInfo.makeId(Date.now()), ...(named === undefined ? {} : { runner: named }) })

/**
 * The memory store with a batch update (the memory store has none; the SQL stores have one), each batch the store's
 * methods were handed kept in `batches`.
 */
const batchingStore = Effect.gen(function*() {
  const store = yield* TaskStore.makeMemory
  const batches: Array<ReadonlyArray<TaskInfo.TaskInfo>> = []
  const insertAll = store.insertAll!
  const batching: TaskStore.TaskStore["Service"] = {
    ...store,
    insertAll: (infos) => Effect.andThen(Effect.sync(() => void batches.push(infos)), insertAll(infos)),
    updateAll: (infos) =>
      Effect.andThen(Effect.sync(() => void batches.push(infos)), Effect.forEach(infos, (info) => Effect.as(store.update(info), undefined)))
  }
  return { batches, store: batching }
})

describe("Runner.runnerView", () => {
  it.effect("names the runner in every record it writes: inserted, updated, as progress, in batches", () =>
    Effect.gen(function*() {
      const { batches, store } = yield* batchingStore
      const view = Runner.runnerView(store, runner)
      const read = (id: string) => Effect.map(store.get(id), (info) => Option.getOrThrow(info).runner)
      const inserted = recordOf()
      yield* view.insert(inserted)
      assert.strictEqual(yield* read(inserted.id), runner)
      const elsewhere = recordOf("10.0.0.2:3400")
      yield* store.insert(elsewhere)
      yield* view.update({ ...elsewhere, status: "running" })
      assert.strictEqual(yield* read(elsewhere.id), runner, "an update names it, over another runner")
      const progressed = recordOf()
      yield* store.insert(progressed)
      yield* view.updateProgress({ ...progressed, status: "running", progress: 10 })
      assert.strictEqual(yield* read(progressed.id), runner)
      const batch = [recordOf(), recordOf("10.0.0.2:3400")]
      yield* view.insertAll!(batch)
      assert.deepStrictEqual(yield* Effect.forEach(batch, (info) => read(info.id)), [runner, runner])
      // records that name no runner (as read from an older store), updated
      yield* view.updateAll!(batch.map(({ runner: _, ...info }) => ({ ...info, status: "running" as const })))
      assert.deepStrictEqual(yield* Effect.forEach(batch, (info) => read(info.id)), [runner, runner])
      assert.strictEqual(batches.length, 2)
    }))

  it.effect("passes records that name it already as they are: no copy, nor of a batch", () =>
    Effect.gen(function*() {
      const { batches, store } = yield* batchingStore
      const view = Runner.runnerView(store, runner)
      const named = recordOf(runner)
      yield* view.insert(named)
      assert.strictEqual(Option.getOrThrow(yield* store.get(named.id)), named, "the record itself, not a copy")
      const batch = [recordOf(runner), recordOf(runner)]
      yield* view.insertAll!(batch)
      yield* view.updateAll!(batch)
      assert.strictEqual(batches[0], batch, "the batch itself")
      assert.strictEqual(batches[1], batch)
      const mixed = [recordOf(runner), recordOf()]
      yield* view.insertAll!(mixed)
      assert.notStrictEqual(batches[2], mixed, "a batch with a record to stamp is copied")
      assert.strictEqual(batches[2]![0], mixed[0], "its records naming the runner passed as they are")
    }))

  it.effect("lacks the batch methods the store lacks, and has nothing unfinished whatever the store holds", () =>
    Effect.gen(function*() {
      const { insertAll: _, ...unbatched } = yield* TaskStore.makeMemory
      const view = Runner.runnerView(unbatched, runner)
      assert.isUndefined(view.insertAll)
      assert.isUndefined(view.updateAll)
      yield* unbatched.insert(recordOf("10.0.0.2:3400"))
      assert.strictEqual((yield* unbatched.unfinished).length, 1)
      assert.deepStrictEqual(yield* view.unfinished, [])
    }))
})
