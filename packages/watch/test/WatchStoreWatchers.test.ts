/**
 * Watchers' rows in the watch tables, on SQLite and PostgreSQL: a name is
 * recorded once, listed by name, paused and resumed, deleted once; account
 * sets are kept oldest first, a set is refused (nothing written) from a block
 * already recorded or for a watcher that does not exist, and a set replaces
 * the ones that would start later; a name holding U+0000 is one not stored
 * on both (PostgreSQL's text cannot hold it). `WatchStoreItems.test.ts`
 * covers items.
 */
import { assert } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as WatchStore from "../src/WatchStore.ts"
import { onEachEngine, watcherRow } from "./fixtures.ts"

onEachEngine(
  "watchers and their account sets",
  Effect.gen(function*() {
    yield* WatchStore.migrate
    const row = { ...watcherRow("beta", "dev"), contracts: [{ address: "0x03", events: ["Transfer(address,address,uint256)"] }], objects: ["0x0b"] }
    assert.isTrue(yield* WatchStore.insertWatcher(row, ["0x01"]))
    // a second watcher of the name writes nothing: not its row, not its accounts
    assert.isFalse(yield* WatchStore.insertWatcher({ ...watcherRow("beta", "other"), startBlock: 3 }, ["0x02"]))
    assert.isTrue(yield* WatchStore.insertWatcher(watcherRow("alpha", "dev"), ["0x05"]))
    assert.deepStrictEqual(yield* WatchStore.getWatcher("beta"), Option.some(row))
    assert.deepStrictEqual((yield* WatchStore.listWatchers).map((watcher) => watcher.name), ["alpha", "beta"])
    assert.deepStrictEqual(yield* WatchStore.accountSets("beta"), [{ fromBlock: 10, accounts: ["0x01"] }])

    assert.isTrue(yield* WatchStore.setStatus("beta", "paused"))
    assert.strictEqual(Option.getOrThrow(yield* WatchStore.getWatcher("beta")).status, "paused")
    assert.isFalse(yield* WatchStore.setStatus("nobody", "paused"))
    assert.deepStrictEqual(yield* WatchStore.getWatcher("nobody"), Option.none())

    // the cursor is at 9: a set from block 9 would scan a recorded block again; from 10 on it is taken
    assert.isFalse(yield* WatchStore.putAccountSet("beta", 9, ["0x09"]))
    assert.isFalse(yield* WatchStore.putAccountSet("nobody", 20, ["0x09"]))
    assert.deepStrictEqual(yield* WatchStore.accountSets("nobody"), [])
    assert.isTrue(yield* WatchStore.putAccountSet("beta", 20, ["0x01", "0x02"]))
    assert.isTrue(yield* WatchStore.putAccountSet("beta", 15, ["0x03"]))
    assert.deepStrictEqual(yield* WatchStore.accountSets("beta"), [
      { fromBlock: 10, accounts: ["0x01"] },
      { fromBlock: 15, accounts: ["0x03"] }
    ])
    assert.isTrue(yield* WatchStore.putAccountSet("beta", 10, ["0x04"]))
    assert.deepStrictEqual(yield* WatchStore.accountSets("beta"), [{ fromBlock: 10, accounts: ["0x04"] }])

    // a name holding U+0000 (PostgreSQL's text cannot hold it) is a name not stored, on either engine; nothing changes
    for (const name of ["\u0000", "beta\u0000", "be\u0000ta"]) {
      assert.deepStrictEqual(yield* WatchStore.getWatcher(name), Option.none())
      assert.isFalse(yield* WatchStore.setStatus(name, "active"))
      assert.isFalse(yield* WatchStore.deleteWatcher(name))
    }
    assert.strictEqual(Option.getOrThrow(yield* WatchStore.getWatcher("beta")).status, "paused")
    assert.deepStrictEqual((yield* WatchStore.listWatchers).map((watcher) => watcher.name), ["alpha", "beta"])

    assert.isTrue(yield* WatchStore.deleteWatcher("beta"))
    assert.isFalse(yield* WatchStore.deleteWatcher("beta"))
    assert.deepStrictEqual(yield* WatchStore.accountSets("beta"), [])
    assert.deepStrictEqual((yield* WatchStore.listWatchers).map((watcher) => watcher.name), ["alpha"])
  }).pipe(Effect.orDie)
)
