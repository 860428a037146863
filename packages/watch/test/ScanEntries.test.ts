/**
 * Where an interrupted scan stopped, as the watch tables keep it, on SQLite
 * and PostgreSQL: a scan's entries written one row each (a key written again
 * replaced, the others kept), a new range dropping what an earlier scan
 * saved, nothing written once the cursor moved, and everything gone when the
 * cursor moves or the watcher is removed.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import * as WatchStore from "../src/WatchStore.ts"
import { onEachEngine, watcherRow } from "./fixtures.ts"

const watcher = watcherRow("scanner", "sui")

const rows = Effect.flatMap(Effect.service(SqlClient.SqlClient), (sql) =>
  Effect.map(sql<{ readonly n: unknown }>`SELECT count(*) AS n FROM ${sql(WatchStore.scanTable)}`, (found) => Number(found[0]!.n)))

const entriesOf = (state: WatchStore.ScanState | null) =>
  state === null ? null : { from: state.from, to: state.to, parts: Object.fromEntries(Object.entries(state.parts).map(([part, entries]) => [part, Object.fromEntries(entries)])) }

const scenario = Effect.gen(function*() {
  yield* WatchStore.migrate
  assert.isTrue(yield* WatchStore.insertWatcher(watcher, []))
  assert.isNull(yield* WatchStore.scanState("scanner", 9))

  yield* WatchStore.saveScanEntries("scanner", 9, 10, [["a", 1], ["b", { x: [1, "two"] }]], { from: 10, to: 20 })
  yield* WatchStore.saveScanEntries("scanner", 9, 10, [["a", 2], ["c", 3], ["a", 4]])
  yield* WatchStore.saveScanEntries("scanner", 9, 15, [["z", null]])
  assert.deepStrictEqual(entriesOf(yield* WatchStore.scanState("scanner", 9)), {
    from: 10,
    to: 20,
    parts: { "10": { a: 4, b: { x: [1, "two"] }, c: 3 }, "15": { z: null } }
  })
  assert.strictEqual(yield* rows, 4)

  // a save after another cursor (a scan of a range already recorded) writes nothing
  yield* WatchStore.saveScanEntries("scanner", 8, 10, [["a", 99], ["stale", 1]], { from: 9, to: 9 })
  assert.deepInclude(entriesOf(yield* WatchStore.scanState("scanner", 9))!.parts["10"], { a: 4 })
  assert.strictEqual(yield* rows, 4)

  // a scan of another range starts afresh
  yield* WatchStore.saveScanEntries("scanner", 9, 10, [["n", 1]], { from: 10, to: 12 })
  assert.deepStrictEqual(entriesOf(yield* WatchStore.scanState("scanner", 9)), { from: 10, to: 12, parts: { "10": { n: 1 } } })

  // the cursor moving past the range drops it all, and a late save of the old range writes nothing
  assert.isTrue(yield* WatchStore.ingest("scanner", 9, 12, "hash", [], 0))
  assert.isNull(yield* WatchStore.scanState("scanner", 9))
  assert.isNull(yield* WatchStore.scanState("scanner", 12))
  yield* WatchStore.saveScanEntries("scanner", 9, 10, [["late", 1]])
  assert.strictEqual(yield* rows, 0)

  // removing the watcher drops what its scan saved
  yield* WatchStore.saveScanEntries("scanner", 12, 13, [["m", 1]], { from: 13, to: 40 })
  assert.strictEqual(yield* rows, 1)
  assert.isTrue(yield* WatchStore.deleteWatcher("scanner"))
  assert.strictEqual(yield* rows, 0)
})

onEachEngine("a scan's saved entries in the watch tables", scenario)
