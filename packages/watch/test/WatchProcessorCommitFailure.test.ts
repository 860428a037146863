/**
 * A processor whose transaction fails at its COMMIT, on a real Hardhat node
 * and SQLite files, the watcher driven by `poll`: the handler writes a row
 * that breaks a deferred foreign key, so SQLite refuses the COMMIT (and the
 * transaction is rolled back). That failure is the database's, not the
 * handler's: the task dies (a defect) instead of failing with a typed error,
 * so a kind's retry policy, which retries typed failures only, does not run
 * the handler again; the item is recorded failed with the database's message.
 */
import { Tasks } from "@chainjobs/tasks"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import * as Watchers from "../src/Watchers.ts"
import * as WatchProcessor from "../src/WatchProcessor.ts"
import { address, pollTransfer, sharedRuntime } from "./fixtures.ts"

/** A processor retried once after a typed failure, whose every transaction fails at its COMMIT. */
const Dangling = WatchProcessor.define("test.dangling-commit", {
  policy: { retry: { schedule: Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 1 })) } }
})

/** How many times the handler ran (its own rows are rolled back with each refused COMMIT). */
let runs = 0

const runtime = WatchProcessor.implement(Dangling, () =>
  Effect.gen(function*() {
    runs++
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO test_child (parent) VALUES (${"no such parent"})`
  }).pipe(Effect.orDie)).pipe(Layer.provideMerge(sharedRuntime()))

layer(runtime, { excludeTestServices: true, timeout: 120_000 })("WatchProcessor, a COMMIT the database refuses", (it) => {
  it.effect("is a defect, not the handler's typed failure: not retried, the item recorded failed with the database's message", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe("PRAGMA foreign_keys = ON")
      yield* sql.unsafe("CREATE TABLE test_parent (id text PRIMARY KEY)")
      yield* sql.unsafe(
        "CREATE TABLE test_child (parent text NOT NULL REFERENCES test_parent (id) DEFERRABLE INITIALLY DEFERRED)"
      )
      const { hash, tasks: page } = yield* pollTransfer("dangling", Dangling.name, 18, address(19))
      assert.strictEqual(page.length, 1)
      const tasks = yield* Tasks.Tasks
      const watchers = yield* Watchers.Watchers
      const info = yield* tasks.awaitInfo(page[0]!.id)
      assert.deepStrictEqual([info.status, info.reason, info.attempt, runs], ["failed", "defect", 1, 1])
      const items = yield* watchers.items("dangling")
      assert.deepStrictEqual(items.map((row) => [row.id, row.status, row.outcome]), [[`dev:${hash}`, "failed", null]])
      assert.match(items[0]!.error ?? "", /FOREIGN KEY constraint failed/)
      assert.deepStrictEqual(yield* sql`SELECT parent FROM test_child`, [])
    }).pipe(Effect.orDie), 60_000)
})
