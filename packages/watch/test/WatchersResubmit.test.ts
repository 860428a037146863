/**
 * An item submitted again while its task is still running, on a real Hardhat
 * node, the watch tables on PostgreSQL (the running handler holds its
 * transaction open, which SQLite's one writer would wait on; skipped without
 * `CHAINJOBS_TEST_PG_URL`), the watcher driven by `poll`: the item is put back
 * to `detected` behind the watcher (as a process that submitted it and died
 * before recording the submission leaves it), and the next pass submits it
 * again. That submission joins the task already recorded for the item: one
 * task, whose id the item records, not a second one queued behind the first.
 */
import { Tasks } from "@chainjobs/tasks"
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as Watchers from "../src/Watchers.ts"
import * as WatchProcessor from "../src/WatchProcessor.ts"
import * as WatchStore from "../src/WatchStore.ts"
import { address, pgTestUrl, pgWatchTables, pollTransfer, sharedRuntime } from "./fixtures.ts"

/** A processor whose handler waits until the test releases it. */
const Held = WatchProcessor.define("test.held")

/** Released once the test has submitted the item again. */
const release = Deferred.makeUnsafe<void>()

const runtime = WatchProcessor.implement(Held, () => Deferred.await(release)).pipe(
  Layer.provideMerge(sharedRuntime(pgTestUrl === undefined ? {} : { watchTables: pgWatchTables }))
)

layer(runtime, { excludeTestServices: true, timeout: 120_000 })("Watchers, an item submitted again", (it) => {
  it.effect.skipIf(pgTestUrl === undefined)("joins the task already recorded for the item, while it runs: one task, the one the item records", () =>
    Effect.gen(function*() {
      const { hash, tasks: first } = yield* pollTransfer("held", Held.name, 12, address(13))
      // its task cannot end before the release below
      assert.strictEqual(first.length, 1)
      const watchers = yield* Watchers.Watchers
      const tasks = yield* Tasks.Tasks
      const sql = yield* SqlClient.SqlClient
      // the item back to detected, its task still running: the next pass submits it again
      yield* sql`UPDATE ${sql(WatchStore.itemsTable)} SET status = 'detected', task_id = NULL WHERE watcher = ${"held"}`
      yield* watchers.poll("held")
      const again = yield* tasks.list({ kind: [Held.name], limit: 10 })
      assert.deepStrictEqual(again.items.map((task) => task.id), [first[0]!.id])
      const items = yield* watchers.items("held")
      assert.deepStrictEqual(items.map((row) => [row.id, row.status, row.taskId]), [[`dev:${hash}`, "submitted", first[0]!.id]])
      yield* Deferred.succeed(release, undefined)
      yield* tasks.awaitInfo(first[0]!.id)
    }).pipe(Effect.orDie), 60_000)
})
