/**
 * A failing watch store names the operation that failed, on SQLite and
 * PostgreSQL: over a database whose watch tables were never created, every
 * statement of `WatchStore` fails, and each failure is a `StoreFailed` whose
 * `operation` (and so the error's message, `watch store <operation>: …`) is
 * the function called — what an operator reading the log has to go by.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import type { SqlClient } from "effect/sql"
import type { WatchError } from "../src/WatchError.ts"
import * as WatchItem from "../src/WatchItem.ts"
import * as WatchStore from "../src/WatchStore.ts"
import { nativeTransfer, onEachEngine, watcherRow } from "./fixtures.ts"

/** The operation and message of the `StoreFailed` an effect fails with. */
const failedOperation = <A, R>(effect: Effect.Effect<A, WatchError, R>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.strictEqual(error.reason._tag, "StoreFailed")
    const operation = error.reason._tag === "StoreFailed" ? error.reason.operation : ""
    assert.isTrue(error.message.startsWith(`watch store ${operation}: `), error.message)
    return operation
  })

const item = nativeTransfer(`0x${"2".repeat(64)}`, "0x01", "0x02")

onEachEngine(
  "every store operation over missing tables fails naming itself",
  Effect.gen(function*() {
    const row = watcherRow("gamma", "dev")
    const finished = { status: "processed" as const, outcome: null, error: null, at: 1 }
    const calls: ReadonlyArray<readonly [string, Effect.Effect<unknown, WatchError, SqlClient.SqlClient>]> = [
      ["insertWatcher", WatchStore.insertWatcher(row, ["0x01"])],
      ["getWatcher", WatchStore.getWatcher("gamma")],
      ["listWatchers", WatchStore.listWatchers],
      ["setStatus", WatchStore.setStatus("gamma", "paused")],
      ["deleteWatcher", WatchStore.deleteWatcher("gamma")],
      ["accountSets", WatchStore.accountSets("gamma")],
      ["putAccountSet", WatchStore.putAccountSet("gamma", 20, ["0x01"])],
      ["ingest", WatchStore.ingest("gamma", 9, 10, `0x${"1".repeat(64)}`, [item], 1)],
      ["scanState", WatchStore.scanState("gamma", 9)],
      ["saveScanEntries", WatchStore.saveScanEntries("gamma", 9, 0, [["k", 1]], { from: 10, to: 12 })],
      ["itemsIn", WatchStore.itemsIn("gamma", "detected", 10)],
      ["items", WatchStore.items("gamma")],
      ["getItem", WatchStore.getItem("gamma", WatchItem.id(item))],
      ["markSubmitted", WatchStore.markSubmitted("gamma", [{ id: WatchItem.id(item), taskId: "t1" }])],
      ["markFinished", WatchStore.markFinished("gamma", WatchItem.id(item), finished)],
      ["processedBlock", WatchStore.processedBlock(row)]
    ]
    const named = []
    for (const [, call] of calls) named.push(yield* failedOperation(call))
    assert.deepStrictEqual(named, calls.map(([operation]) => operation))
  })
)
