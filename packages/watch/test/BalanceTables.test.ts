/**
 * The balance tables `BalanceCache.migrate` creates, on SQLite and (with
 * `CHAINJOBS_TEST_PG_URL`) PostgreSQL, created inside the test: their time
 * columns hold milliseconds since the epoch (past 32 bits), and the audit's
 * rows get ids of their own, in order. Every other balance test builds its
 * tables while its layer is built, before any test runs.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import * as BalanceCache from "../src/BalanceCache.ts"
import { onEachEngine } from "./fixtures.ts"

/** 2100-01-01 in milliseconds: beyond a 32-bit integer. */
const at = 4_102_444_800_000

onEachEngine(
  "the balance tables hold millisecond times and number the audit",
  Effect.gen(function*() {
    yield* BalanceCache.migrate
    const sql = yield* SqlClient.SqlClient
    const balance = { chain: "dev", account: "0x01", asset: "native", amount: "5", checked_at: at, stale: 0 }
    yield* sql`INSERT INTO chainjobs_balances ${sql.insert(balance)}`
    const pending = { chain: "dev", tx: "0x0a", account: "0x01", asset: "native", direction: "in", amount: "1", created_at: at }
    yield* sql`INSERT INTO chainjobs_balance_pending ${sql.insert(pending)}`
    yield* sql`INSERT INTO chainjobs_balance_listings ${sql.insert({ chain: "dev", account: "0x01", listed_at: at, stale: 0 })}`
    for (const after of ["5", "6"]) {
      const change = { chain: "dev", account: "0x01", asset: "native", cause: "fill", before: null, after, drift: 0, at }
      yield* sql`INSERT INTO chainjobs_balance_audit ${sql.insert(change)}`
    }
    const times = yield* sql<{ readonly t: unknown }>`SELECT checked_at AS t FROM chainjobs_balances
      UNION ALL SELECT created_at FROM chainjobs_balance_pending
      UNION ALL SELECT listed_at FROM chainjobs_balance_listings`
    assert.deepStrictEqual(times.map((row) => Number(row.t)), [at, at, at])
    const audit = yield* sql<{ readonly id: unknown; readonly after: string }>`SELECT id, after FROM chainjobs_balance_audit ORDER BY id`
    assert.deepStrictEqual(audit.map((row) => [Number(row.id), row.after]), [[1, "5"], [2, "6"]])
  }).pipe(Effect.orDie)
)
