/**
 * An item's record in the watch tables, on SQLite and PostgreSQL: recorded
 * with the cursor move or not at all, in chain order, handed to its task
 * (whose id is kept even when the task finished the item first), finished
 * once (a processed item is never undone), and the processed cursor before
 * the first item not finished.
 */
import { assert } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as WatchItem from "../src/WatchItem.ts"
import * as WatchStore from "../src/WatchStore.ts"
import { onEachEngine, watcherRow } from "./fixtures.ts"

const watcher = watcherRow("items", "dev")

const item = (block: number, transaction: string, position: number | null) =>
  new WatchItem.WatchItem({
    watcher: "items",
    chain: "dev",
    kind: position === null ? "native" : "token",
    block,
    blockHash: `0xb${block}`,
    transaction,
    position,
    from: "0x01",
    to: "0x02",
    amount: "5",
    asset: position === null ? null : "0x0t",
    contract: null,
    event: null,
    args: null
  })

const scenario = Effect.gen(function*() {
  yield* WatchStore.migrate
  assert.isTrue(yield* WatchStore.insertWatcher(watcher, ["0x01"]))
  const [late, early, token] = [item(11, "0xaa", null), item(10, "0xbb", null), item(10, "0xcc", 3)]
  // a cursor move from a block it is not at writes nothing
  assert.isFalse(yield* WatchStore.ingest("items", 8, 11, "0xb11", [late], 1))
  assert.deepStrictEqual(yield* WatchStore.items("items"), [])
  assert.isTrue(yield* WatchStore.ingest("items", 9, 11, "0xb11", [late, token, early], 1))
  const watcherNow = Option.getOrThrow(yield* WatchStore.getWatcher("items"))
  assert.deepStrictEqual([watcherNow.confirmedBlock, watcherNow.confirmedHash], [11, "0xb11"])
  const detected = yield* WatchStore.itemsIn("items", "detected", 10)
  // by block, then by id
  assert.deepStrictEqual(detected.map((row) => row.id), ["dev:0xbb", "dev:0xcc:3", "dev:0xaa"])
  assert.deepStrictEqual(detected[0]!.item, early)
  assert.deepStrictEqual([detected[0]!.status, detected[0]!.taskId, detected[0]!.error, detected[0]!.finishedAt, detected[0]!.detectedAt], ["detected", null, null, null, 1])
  assert.strictEqual((yield* WatchStore.itemsIn("items", "detected", 1)).length, 1)
  assert.strictEqual(yield* WatchStore.processedBlock(watcherNow), 9)

  // the token item's task finished it before the submission was recorded: it keeps its outcome and gets its task's id
  assert.isTrue(yield* WatchStore.markFinished("items", WatchItem.id(token), { status: "processed", outcome: { ok: [1, "two"] }, error: null, at: 5 }))
  yield* WatchStore.markSubmitted("items", detected.map((row, index) => ({ id: row.id, taskId: `task-${index}` })))
  const handed = new Map((yield* WatchStore.items("items")).map((row) => [row.id, row]))
  assert.deepInclude(handed.get(WatchItem.id(token)), { status: "processed", taskId: "task-1", outcome: { ok: [1, "two"] }, finishedAt: 5 })
  assert.deepInclude(handed.get(WatchItem.id(early)), { status: "submitted", taskId: "task-0" })
  assert.deepInclude(handed.get(WatchItem.id(late)), { status: "submitted", taskId: "task-2" })
  // a repeated submission (after a crash) keeps the first task's id
  yield* WatchStore.markSubmitted("items", [{ id: WatchItem.id(early), taskId: "task-again" }])
  assert.strictEqual(Option.getOrThrow(yield* WatchStore.getItem("items", WatchItem.id(early))).taskId, "task-0")
  assert.strictEqual(yield* WatchStore.processedBlock(watcherNow), 9)

  // finishing: a failure is recorded with its message; a processed item is never undone
  assert.isTrue(yield* WatchStore.markFinished("items", WatchItem.id(early), { status: "failed", outcome: undefined, error: "boom", at: 6 }))
  assert.isFalse(yield* WatchStore.markFinished("items", WatchItem.id(token), { status: "failed", outcome: null, error: "late", at: 7 }))
  const failed = Option.getOrThrow(yield* WatchStore.getItem("items", WatchItem.id(early)))
  assert.deepInclude(failed, { status: "failed", error: "boom", outcome: null, finishedAt: 6 })
  assert.deepInclude(Option.getOrThrow(yield* WatchStore.getItem("items", WatchItem.id(token))), { status: "processed", error: null })
  assert.strictEqual(yield* WatchStore.processedBlock(watcherNow), 10)
  assert.isTrue(yield* WatchStore.markFinished("items", WatchItem.id(late), { status: "processed", outcome: null, error: null, at: 8 }))
  assert.strictEqual(yield* WatchStore.processedBlock(watcherNow), 11)
  assert.isTrue(Option.isNone(yield* WatchStore.getItem("items", "dev:0xnone")))
  assert.isFalse(yield* WatchStore.markFinished("items", "dev:0xnone", { status: "processed", outcome: null, error: null, at: 9 }))

  // an item recorded again (a range scanned twice) is left as it is
  assert.isTrue(yield* WatchStore.ingest("items", 11, 12, "0xb12", [item(11, "0xaa", null)], 2))
  assert.deepInclude(Option.getOrThrow(yield* WatchStore.getItem("items", WatchItem.id(late))), { status: "processed", detectedAt: 1, taskId: "task-2" })
  assert.strictEqual((yield* WatchStore.items("items")).length, 3)
})

onEachEngine("an item's record in the watch tables", scenario)
