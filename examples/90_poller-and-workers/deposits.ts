/**
 * The workers of the poller-and-workers examples (90 on an EVM chain, 95 on
 * Sui): a processor kind recording each transfer in a `deposits` table, in
 * the same transaction that marks its item processed.
 */
import { Effect, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { Watchers, WatchItem, WatchProcessor } from "@chainjobs/watch"

/** The worker kind: records a transfer in the `deposits` table, in the item's own transaction. */
export const Deposit = WatchProcessor.define("example/deposit")

/** Each run inserts one row; its primary key would refuse a second row for the same transfer. */
export const DepositLive = WatchProcessor.implement(Deposit, (item) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO deposits ${sql.insert({ id: WatchItem.id(item), kind: item.kind, amount: item.amount ?? "0" })}`
  }).pipe(Effect.orDie))

/** Makes the `deposits` table. */
export const createDeposits = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE deposits (id text PRIMARY KEY, kind text NOT NULL, amount text NOT NULL)`
}).pipe(Effect.orDie)

/** Rows in `deposits`, and distinct transfers among them. */
export const countDeposits = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [row] = yield* sql<{ total: number; transfers: number }>`SELECT COUNT(*) AS total, COUNT(DISTINCT id) AS transfers FROM deposits`
  return { rows: Number(row.total), distinct: Number(row.transfers) }
}).pipe(Effect.orDie)

/** Waits until the watcher `name` has processed every block (or checkpoint) up to `block`. */
export const processedUpTo = (name: string, block: number) =>
  Watchers.Watchers.use((watchers) => watchers.lag(name)).pipe(
    Effect.repeat({ until: (lag) => lag.processed >= block, schedule: Schedule.spaced("50 millis") })
  )
