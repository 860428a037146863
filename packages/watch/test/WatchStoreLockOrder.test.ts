/**
 * The lock order between an `ingest` and a `putAccountSet` of another runner,
 * on PostgreSQL (two connections, READ COMMITTED): both take the watcher's row
 * first, so whichever waits for the other's commit sees what it wrote.
 *
 * - An ingest that waits on the row while a set from a block of its range is
 *   written answers false once that set commits: it reads the sets after it
 *   holds the row, never before, and records nothing.
 * - A set write that waits on the row while the cursor moves past its block
 *   is refused once that move commits, and the sets stay as they were.
 *
 * The other runner is a transaction of the test's that holds the row
 * (`FOR UPDATE`) until the store's own statement waits on it, seen in
 * `pg_stat_activity`: no timing decides the order. SQLite has one writer at a
 * time, so there is no interleaving to test there; skipped without
 * `CHAINJOBS_TEST_PG_URL`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option } from "effect"
import { SqlClient } from "effect/sql"
import * as WatchStore from "../src/WatchStore.ts"
import { eventually, nativeTransfer, pgTestUrl, pgWatchTables, watcherRow } from "./fixtures.ts"

/**
 * Holds watcher `name`'s row in a transaction of its own until `release`, which then runs `then` in that
 * transaction, commits and answers what `then` answered; `pid` is the holding backend's.
 */
const holdRow = <A, E, R>(name: string, then: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pid = yield* Deferred.make<number>()
    const go = yield* Deferred.make<void>()
    const holder = yield* Effect.forkChild(sql.withTransaction(Effect.gen(function*() {
      yield* sql`SELECT name FROM ${sql(WatchStore.watchersTable)} WHERE name = ${name} FOR UPDATE`
      const [row] = yield* sql<{ readonly pid: number }>`SELECT pg_backend_pid() AS pid`
      yield* Deferred.succeed(pid, row!.pid)
      yield* Deferred.await(go)
      return yield* then
    })))
    return { pid: yield* Deferred.await(pid), release: Effect.andThen(Deferred.succeed(go, undefined), Fiber.join(holder)) }
  })

/**
 * Waits until `fiber`'s statement waits on a lock backend `pid` holds, or `fiber` ended without waiting (a store
 * that does not take the row first: the test's assertions then tell).
 */
const waitsOn = <A, E>(pid: number, fiber: Fiber.Fiber<A, E>, what: string) =>
  Effect.flatMap(Effect.service(SqlClient.SqlClient), (sql) =>
    eventually(
      Effect.suspend(() =>
        fiber.pollUnsafe() !== undefined
          ? Effect.succeed(true)
          : Effect.map(sql`SELECT 1 FROM pg_stat_activity WHERE ${pid} = ANY(pg_blocking_pids(pid))`, (rows) => rows.length > 0)
      ),
      what
    ))

describe.skipIf(pgTestUrl === undefined)("WatchStore's lock order on PostgreSQL", () => {
  it.live("an ingest waiting on the watcher's row while a set from a block of its range is written answers false, recording nothing", () =>
    Effect.gen(function*() {
      yield* WatchStore.migrate
      // cursor at 9, set [0x01] from block 10; the scan of blocks 10–12 read that set
      assert.isTrue(yield* WatchStore.insertWatcher(watcherRow("w", "dev"), ["0x01"]))
      const scanned = yield* WatchStore.accountSets("w")

      const other = yield* holdRow("w", WatchStore.putAccountSet("w", 11, ["0x01", "0x02"]))
      const ingest = yield* Effect.forkChild(WatchStore.ingest("w", 9, 12, "0xb12", [nativeTransfer("0xaa", "0x02", "0x01")], 1, scanned))
      yield* waitsOn(other.pid, ingest, "the ingest waiting on the watcher's row")
      assert.isTrue(yield* other.release, "the other runner's set from block 11")

      assert.isFalse(yield* Fiber.join(ingest), "the ingest recorded blocks 10–12 from the sets it read before the set from 11")
      assert.strictEqual(Option.getOrThrow(yield* WatchStore.getWatcher("w")).confirmedBlock, 9)
      assert.deepStrictEqual(yield* WatchStore.items("w"), [])
    }).pipe(Effect.provide(pgWatchTables, { local: true }), Effect.scoped))

  it.live("a set write waiting on the watcher's row while the cursor moves past its block is refused, the sets as they were", () =>
    Effect.gen(function*() {
      yield* WatchStore.migrate
      assert.isTrue(yield* WatchStore.insertWatcher(watcherRow("w", "dev"), ["0x01"]))

      const other = yield* holdRow("w", WatchStore.ingest("w", 9, 10, "0xb10", [], 1))
      const put = yield* Effect.forkChild(WatchStore.putAccountSet("w", 10, ["0x02"]))
      yield* waitsOn(other.pid, put, "the set write waiting on the watcher's row")
      assert.isTrue(yield* other.release, "the other runner's ingest of block 10")

      assert.isFalse(yield* Fiber.join(put), "a set from block 10 was written after block 10 was recorded")
      assert.deepStrictEqual(yield* WatchStore.accountSets("w"), [{ fromBlock: 10, accounts: ["0x01"] }])
      assert.strictEqual(Option.getOrThrow(yield* WatchStore.getWatcher("w")).confirmedBlock, 10)
    }).pipe(Effect.provide(pgWatchTables, { local: true }), Effect.scoped))
})
