/**
 * The workers of the poller-and-workers examples (90 on an EVM chain, 95 on
 * Sui): a processor kind recording each transfer in a `deposits` table, in
 * the same transaction that marks its item processed; and the steps both
 * examples show with them (a resubmission, the balance cache's reads).
 */
import { Console, Effect, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { Tasks } from "@chainjobs/tasks"
import { BalanceCache, BalanceUpkeep, Watchers, WatchItem, WatchProcessor } from "@chainjobs/watch"

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

/** Submits the watcher's first transfer again (as a poller that crashed before marking it submitted would) and shows it is not processed twice. */
export const resubmitFirst = (name: string) =>
  Effect.gen(function*() {
    const [first] = yield* Watchers.Watchers.use((watchers) => watchers.items(name))
    yield* (yield* Tasks.Tasks.use((tasks) => tasks.submit(Deposit, first.item))).join
    yield* Console.log(`workers: the first transfer submitted again is not processed twice; rows still ${(yield* countDeposits).rows}`)
  })

/** What the balance steps need of a chain: its name, how the node answers the wallet's balance, and a change made behind the cache. */
export interface BalanceSteps {
  readonly chain: string
  readonly wallet: string
  /** `chain` or `network`, as the output says where a read went. */
  readonly source: string
  /** The wallet's balance as the node answers it. */
  readonly nodeBalance: Effect.Effect<bigint>
  /** Sets the wallet's balance on the node without a transaction. */
  readonly changeBehind: Effect.Effect<void>
  /** The amount after that change, and how the output names it. */
  readonly changedTo: { readonly amount: bigint; readonly label: string }
}

/**
 * The balance cache in a payments backend: a display read filled from the
 * chain then answered from the cache, a verified read before a withdrawal, and
 * the hourly reconcile (run now) finding a change the cache could not know of.
 */
export const balanceSteps = (steps: BalanceSteps) =>
  Effect.gen(function*() {
    const cache = yield* BalanceCache.BalanceCache
    const display = yield* cache.read(steps.chain, steps.wallet, "native")
    const again = yield* cache.read(steps.chain, steps.wallet, "native")
    yield* Console.log(`balance for display: first read from the ${steps.source} ${display.fromChain}, the next from the cache ${!again.fromChain}`)
    const critical = yield* cache.read(steps.chain, steps.wallet, "native", { verify: true })
    const onNode = yield* steps.nodeBalance
    yield* Console.log(`balance before a withdrawal (verified): from the ${steps.source} ${critical.fromChain}, equals the node's ${critical.amount === onNode}`)

    yield* steps.changeBehind
    const before = yield* cache.read(steps.chain, steps.wallet, "native")
    yield* Console.log(`after a change behind the cache: the cached amount is the old one ${before.amount === critical.amount}`)
    const result = yield* (yield* Tasks.Tasks.use((tasks) => tasks.submit(BalanceUpkeep.ReconcileAll, {}))).join
    const after = yield* cache.read(steps.chain, steps.wallet, "native")
    yield* Console.log(`hourly reconcile (run now): drifted ${result.drifted}; the cache now says ${steps.changedTo.label} ${after.amount === steps.changedTo.amount}`)
  })
