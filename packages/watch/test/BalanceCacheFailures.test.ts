/**
 * A failing balance cache names the operation that failed: with its tables
 * dropped one after another under a running cache (a real Hardhat node, a
 * SQLite file), each call fails with a `StoreFailed` whose `operation` (and
 * so the error's message, `watch store <operation>: …`) says which statement
 * of the cache failed — the write of an amount read from the chain, the read
 * of a cached one, the pending sums (of a read, an upkeep pass, a page of
 * the list), each statement of a listing (the last,
 * its record, refused by a trigger while the table reads), a stale mark, an
 * upkeep pass.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import * as BalanceCache from "../src/BalanceCache.ts"
import type { WatchError } from "../src/WatchError.ts"
import { nativeTransfer, numbered, sharedRuntime } from "./fixtures.ts"

/** The operation named by the `StoreFailed` each effect fails with, in turn. */
const failedOperations = (calls: ReadonlyArray<Effect.Effect<unknown, WatchError>>) =>
  Effect.forEach(calls, (call) =>
    Effect.map(Effect.flip(call), (error) => {
      assert.strictEqual(error.reason._tag, "StoreFailed", error.message)
      const operation = error.reason._tag === "StoreFailed" ? error.reason.operation : ""
      assert.isTrue(error.message.startsWith(`watch store ${operation}: `), error.message)
      return operation
    }))

/** Runs `effect` with `table` renamed away, so that every statement over it fails, and renamed back after. */
const without = <A, E, R>(table: string, effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.service(SqlClient.SqlClient), (sql) =>
    Effect.acquireUseRelease(
      Effect.orDie(sql.unsafe(`ALTER TABLE ${table} RENAME TO ${table}_hidden`)),
      () => effect,
      () => Effect.orDie(sql.unsafe(`ALTER TABLE ${table}_hidden RENAME TO ${table}`))
    ))

/** Runs `effect` while inserts into `table` fail (a SQLite trigger), its reads still answered; the trigger dropped after. */
const refusingInserts = <A, E, R>(table: string, effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.service(SqlClient.SqlClient), (sql) =>
    Effect.acquireUseRelease(
      Effect.orDie(sql.unsafe(`CREATE TRIGGER ${table}_refused BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'refused'); END`)),
      () => effect,
      () => Effect.orDie(sql.unsafe(`DROP TRIGGER ${table}_refused`))
    ))

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("BalanceCache failures", (it) => {
  it.effect("each statement that fails is named: write, read, pending sums, listing, stale marks, upkeep, audit", () =>
    Effect.gen(function*() {
      const cache = yield* BalanceCache.BalanceCache
      const [first, second, third] = [numbered(0x6001), numbered(0x6002), numbered(0x6003)]
      const transaction = `0x${"6".repeat(64)}`
      const transfer = nativeTransfer(transaction, first, second)
      // read twice: filled from the chain, then kept in memory from the table
      yield* cache.read("dev", third, "native")
      yield* cache.read("dev", third, "native")

      // the first read of an account reads the chain, then fails writing what it read
      assert.deepStrictEqual(
        yield* without("chainjobs_balance_audit", failedOperations([cache.read("dev", first, "native"), cache.audit(1)])),
        ["write", "audit"]
      )
      assert.deepStrictEqual(yield* without("chainjobs_balance_listings", failedOperations([cache.readAll("dev", first)])), [
        "readAll"
      ])
      // a verified read of a balance kept in memory reads the chain, stores the same amount, then fails summing its pending transfers
      assert.deepStrictEqual(
        yield* without(
          "chainjobs_balance_pending",
          failedOperations([
            cache.read("dev", third, "native", { verify: true }),
            cache.addPending({ chain: "dev", transaction, account: third, asset: "native", direction: "in", amount: 1n }),
            cache.settlePending("dev", transaction, "failed"),
            cache.refreshStale,
            cache.list({})
          ])
        ),
        ["pending", "addPending", "settlePending", "pending", "list"]
      )
      // with the pending transfers readable, an upkeep pass settles none, then fails reading the stale balances; a
      // listing with no listing kept fails reading the account's cached assets
      assert.deepStrictEqual(
        yield* without(
          "chainjobs_balances",
          failedOperations([
            cache.read("dev", second, "native"),
            cache.readAll("dev", second),
            cache.list({}),
            cache.observe("dev", [transfer]),
            cache.refreshStale,
            cache.reconcile
          ])
        ),
        ["read", "readAll", "list", "markStale", "refreshStale", "reconcile"]
      )
      // a listing that reads its assets and stores their amounts, then fails recording the listing itself
      assert.deepStrictEqual(
        yield* refusingInserts("chainjobs_balance_listings", failedOperations([cache.readAll("dev", third)])),
        ["readAll"]
      )
    }), 60_000)
})
