/**
 * A watcher recorded before the watch tables had the `objects` column (added
 * by migration 0002: such rows hold NULL there) reads back with no watched
 * objects, alone and in the list, on SQLite and PostgreSQL.
 */
import { assert } from "@effect/vitest"
import { Effect, Option } from "effect"
import { SqlClient } from "effect/sql"
import * as WatchStore from "../src/WatchStore.ts"
import { onEachEngine, watcherRow } from "./fixtures.ts"

onEachEngine(
  "a watcher recorded before watched objects existed has none",
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* WatchStore.migrate
    assert.isTrue(yield* WatchStore.insertWatcher(watcherRow("older", "dev"), ["0x01"]))
    // what the ALTER TABLE of migration 0002 left in a row written before it
    yield* sql`UPDATE ${sql(WatchStore.watchersTable)} SET objects = NULL WHERE name = 'older'`
    const read = yield* WatchStore.getWatcher("older")
    assert.deepStrictEqual(Option.map(read, (watcher) => watcher.objects), Option.some([]))
    assert.deepStrictEqual((yield* WatchStore.listWatchers).map((watcher) => [watcher.name, watcher.objects]), [["older", []]])
  }).pipe(Effect.orDie)
)
