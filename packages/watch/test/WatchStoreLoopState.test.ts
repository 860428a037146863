/**
 * What a watcher's loop saw, in its row of the watch tables, on SQLite and
 * PostgreSQL: none yet for a new watcher; each write sets the head (a null
 * head keeps the stored one), adds the reorganizations counted since the last
 * write to the stored count, sets the last error (U+0000 in it stored as
 * U+FFFD, which PostgreSQL's text can hold) and the time; a watcher that does not exist, or whose
 * name holds U+0000, has none and a write for it changes nothing.
 */
import { assert } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as WatchStore from "../src/WatchStore.ts"
import { onEachEngine, watcherRow } from "./fixtures.ts"

onEachEngine(
  "a watcher's loop state",
  Effect.gen(function*() {
    yield* WatchStore.migrate
    assert.isTrue(yield* WatchStore.insertWatcher(watcherRow("seen", "dev"), ["0x01"]))
    assert.deepStrictEqual(yield* WatchStore.loopState("seen"), Option.some({ head: null, reorgs: 0, lastError: null, observedAt: null }))

    yield* WatchStore.saveLoopState("seen", { head: 120, newReorgs: 1, lastError: null, at: 5_000 })
    yield* WatchStore.saveLoopState("seen", { head: null, newReorgs: 2, lastError: "node down\u0000", at: 6_000 })
    assert.deepStrictEqual(yield* WatchStore.loopState("seen"), Option.some({ head: 120, reorgs: 3, lastError: "node down\uFFFD", observedAt: 6_000 }))
    yield* WatchStore.saveLoopState("seen", { head: 121, newReorgs: 0, lastError: null, at: 7_000 })
    assert.deepStrictEqual(yield* WatchStore.loopState("seen"), Option.some({ head: 121, reorgs: 3, lastError: null, observedAt: 7_000 }))
    // the definition and cursor are not touched
    assert.deepStrictEqual(Option.map(yield* WatchStore.getWatcher("seen"), (watcher) => watcher.confirmedBlock), Option.some(watcherRow("seen", "dev").confirmedBlock))

    for (const name of ["ghost", "se\u0000en"]) {
      yield* WatchStore.saveLoopState(name, { head: 1, newReorgs: 1, lastError: "x", at: 1 })
      assert.isTrue(Option.isNone(yield* WatchStore.loopState(name)), name)
    }
    assert.deepStrictEqual((yield* WatchStore.listWatchers).map((watcher) => watcher.name), ["seen"])
  }).pipe(Effect.orDie)
)
