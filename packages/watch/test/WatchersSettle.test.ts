/**
 * The error an item records when its task ended without recording the
 * item's outcome, read from the task's record (`settle`): an interrupted
 * task (no reason, no message) fails its item as "task interrupted"; a
 * failed record with a reason and no message — one another writer of the
 * shared task store left (an older runner, a repair by hand), since this
 * version's supervisor always writes a message — as "task failed (<reason>)";
 * a record that cannot be read (the store failing) leaves the item as it is
 * until a later tick reads it.
 *
 * Real dev chain, real SQLite task store and watch tables. In the second
 * test the record is rewritten through the real task store between two
 * watch processes on the same files, as that other writer would.
 */
import { SqlTaskStore } from "@chainjobs/store-sql"
import { Task, TaskError, Tasks, TaskStore } from "@chainjobs/tasks"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { join } from "node:path"
import * as Watchers from "../src/Watchers.ts"
import * as WatchProcessor from "../src/WatchProcessor.ts"
import { address, DevChain, node, runtime, tempDirectory } from "./fixtures.ts"

/** A processor whose task runs until it is stopped: its item stays `submitted` until the task's record ends. */
const Hold = WatchProcessor.define("test.hold")

/** A watching process on `directory`'s task store and watch tables, with the holding processor. */
const watching = (directory: string, url: string) =>
  Task.implement(Hold, () => Effect.never).pipe(Layer.provideMerge(runtime(directory, url)))

/** Adds a paused watcher of `account` held by `Hold`, sends it a transfer from dev account `from`, polls: the one item, submitted. */
const submitted = (name: string, from: number, account: `0x${string}`) =>
  Effect.gen(function*() {
    const act = node((yield* DevChain.DevChain).url)
    const watchers = yield* Watchers.Watchers
    yield* watchers.add({ name, chain: "dev", processor: Hold.name, accounts: [account], confirmations: 0, paused: true })
    const hash = yield* act.sendRaw(yield* act.sign(from, account, 1n))
    yield* watchers.poll(name)
    const rows = yield* watchers.items(name)
    assert.deepStrictEqual(rows.map((row) => [row.id, row.status]), [[`dev:${hash}`, "submitted"]])
    return rows[0]!
  })

/**
 * Watchers made on the current runtime whose supervisor's `get` fails with `TaskStoreError` while `failing.on`
 * (fault injection at the supervisor's boundary: every other call is the real supervisor's).
 */
const withFailingReads = Effect.gen(function*() {
  const tasks = yield* Tasks.Tasks
  const failing = { on: false }
  const faulty = Tasks.Tasks.of({
    ...tasks,
    get: (id) => failing.on ? Effect.fail(new TaskError.TaskStoreError({ operation: "get", detail: "injected failure" })) : tasks.get(id)
  })
  const watchers = yield* Watchers.make().pipe(Effect.provideService(Tasks.Tasks, faulty))
  return { failing, watchers }
})

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("Watchers: an item settled from its task's record", (it) => {
  it.effect("an interrupted task's item fails as \"task interrupted\", and the processed cursor passes it", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const directory = yield* tempDirectory
      yield* Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        const tasks = yield* Tasks.Tasks
        const row = yield* submitted("interrupted", 2, address(3))
        yield* tasks.interrupt(row.taskId!)
        assert.strictEqual((yield* tasks.get(row.taskId!)).status, "interrupted")
        yield* watchers.poll("interrupted")
        const [settled] = yield* watchers.items("interrupted")
        assert.deepStrictEqual([settled!.status, settled!.outcome, settled!.error], ["failed", null, "task interrupted"])
        assert.strictEqual((yield* watchers.lag("interrupted")).processed, row.item.block)
      }).pipe(Effect.provide(watching(directory, chain.url), { local: true }))
    }).pipe(Effect.scoped), 60_000)

  it.effect("a task record that cannot be read leaves its item submitted and the tick succeeds; read again, it settles the item", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const directory = yield* tempDirectory
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const { failing, watchers } = yield* withFailingReads
        const watched = address(7)
        yield* watchers.add({ name: "unread", chain: "dev", processor: Hold.name, accounts: [watched], confirmations: 0, paused: true })
        const hash = yield* node(chain.url).sendRaw(yield* node(chain.url).sign(6, watched, 1n))
        yield* watchers.poll("unread")
        const [row] = yield* watchers.items("unread")
        assert.deepStrictEqual([row!.id, row!.status], [`dev:${hash}`, "submitted"])
        yield* tasks.interrupt(row!.taskId!)
        failing.on = true
        yield* watchers.poll("unread")
        assert.deepStrictEqual((yield* watchers.items("unread")).map((item) => [item.status, item.error]), [["submitted", null]])
        assert.strictEqual((yield* watchers.lag("unread")).lastError, null)
        failing.on = false
        yield* watchers.poll("unread")
        assert.deepStrictEqual((yield* watchers.items("unread")).map((item) => [item.status, item.error]), [["failed", "task interrupted"]])
      }).pipe(Effect.scoped, Effect.provide(watching(directory, chain.url), { local: true }))
    }).pipe(Effect.scoped), 60_000)

  it.effect("a failed record with a reason and no message, left by another writer of the store: the item fails as \"task failed (<reason>)\"", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const directory = yield* tempDirectory
      // the first process records and submits the item, and stops with its task unfinished
      const row = yield* submitted("rewritten", 4, address(5)).pipe(Effect.provide(watching(directory, chain.url), { local: true }))

      // another writer finishes the task's record: failed as timed out, without a message
      yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        const info = Option.getOrThrow(yield* store.get(row.taskId!))
        yield* store.update({ ...info, status: "failed", reason: "timeout", errorMessage: null, finishedAt: info.createdAt + 1 })
      }).pipe(Effect.provide(SqlTaskStore.layerSqlite({ filename: join(directory, "tasks.db") }), { local: true }))

      // the next process settles the item from that record
      yield* Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        const [before] = yield* watchers.items("rewritten")
        assert.deepStrictEqual([before!.id, before!.status, before!.taskId], [row.id, "submitted", row.taskId])
        yield* watchers.poll("rewritten")
        const [settled] = yield* watchers.items("rewritten")
        assert.deepStrictEqual([settled!.status, settled!.outcome, settled!.error], ["failed", null, "task failed (timeout)"])
      }).pipe(Effect.provide(watching(directory, chain.url), { local: true }))
    }).pipe(Effect.scoped), 60_000)
})
