/**
 * The balance cache: one amount per (chain, account, asset) in SQL, read with
 * its age. A read asking for a maximum age the cached amount exceeds, or for
 * verification (before a withdrawal), reads the chain, corrects the cache and
 * records the change in the audit table — as drift when the cached amount was
 * not known to be stale. Watchers mark the balances of the accounts their items
 * move value for as stale (`observe`); `refreshStale` and `reconcile` (run as
 * tasks on schedules by `BalanceUpkeep`) read the chain for the stale ones and
 * for all, recording what they change.
 *
 * Pending amounts — a transaction broadcast but not yet confirmed — are kept
 * beside the confirmed amount (`addPending`) until a watcher records the
 * transaction at confirmation depth (`observe`), `refreshStale` finds it
 * confirmed or failed, or `settlePending` is told.
 *
 * Every asset of an account (`readAll`) is listed from the chain in one read
 * where the family can (Sui), or as the native asset and the assets already
 * cached for the account; the listing is kept (`chainjobs_balance_listings`),
 * so a later `readAll` answers from the cache until the account's activity
 * marks it stale (a coin type it did not hold may have arrived) or it is
 * older than asked.
 *
 * Tables: `chainjobs_balances`, `chainjobs_balance_pending`,
 * `chainjobs_balance_audit`, `chainjobs_balance_listings`. The tables are the truth; in front of them the
 * cache keeps the balances read last in memory (`BalanceFront`, at most
 * `maxEntries`, the least recently read evicted first), written through by
 * every change this cache makes: a read from the chain stores the new amount
 * in both, stale marks set the flag in both, and a change of pending amounts
 * drops the entry (the next read sums them from the table). The front assumes
 * this process is the only writer of the tables; several processes sharing
 * them (PostgreSQL) each set `maxEntries: 0`.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import { BalanceFront, type FrontEntry } from "./BalanceFront.ts"
import { type Asset, ChainAdapters } from "./ChainAdapter.ts"
import { Invalid, storeFailed, WatchError } from "./WatchError.ts"
import * as WatchItem from "./WatchItem.ts"

const balancesTable = "chainjobs_balances"
const pendingTable = "chainjobs_balance_pending"
const auditTable = "chainjobs_balance_audit"
const listingsTable = "chainjobs_balance_listings"

/** Why a cached amount was read from the chain. */
export const Cause = Schema.Literals(["fill", "max-age", "verify", "refresh", "reconcile"])
/** @see Cause */
export type Cause = typeof Cause.Type

/** A balance as read: the confirmed amount, its age, and what is pending beside it. Amounts in the asset's smallest unit (decimal strings on the wire). */
export const Balance = Schema.Struct({
  chain: Schema.String,
  account: Schema.String,
  /** `native`, or the token contract / coin type. */
  asset: Schema.String,
  amount: Schema.BigInt,
  /** Incoming amounts broadcast but not confirmed. */
  pendingIn: Schema.BigInt,
  /** Outgoing amounts broadcast but not confirmed. */
  pendingOut: Schema.BigInt,
  /** When the amount was read from the chain (epoch ms). */
  checkedAt: Schema.Number,
  /** How long ago that was. */
  ageMillis: Schema.Number,
  /** Activity was seen since the amount was read. */
  stale: Schema.Boolean,
  /** Whether this read went to the chain. */
  fromChain: Schema.Boolean
})
/** @see Balance */
export type Balance = typeof Balance.Type

/** One change the cache made, as its audit table holds it. */
export interface AuditEntry {
  readonly chain: string
  readonly account: string
  readonly asset: Asset
  readonly cause: Cause
  readonly before: bigint | null
  readonly after: bigint
  /** The change was not explained by activity the cache knew of (the cached amount was not stale). */
  readonly drift: boolean
  readonly at: number
}

/** What a refresh or reconcile pass did. */
export interface UpkeepResult {
  readonly checked: number
  readonly changed: number
  readonly drifted: number
}

/** How to read a balance. */
export interface ReadOptions {
  /** Read the chain when the cached amount is older than this many milliseconds. */
  readonly maxAgeMillis?: number | undefined
  /** Read the chain whatever the cached amount's age (before a critical operation). */
  readonly verify?: boolean | undefined
}

/** A pending transfer of a broadcast transaction. */
export interface Pending {
  readonly chain: string
  readonly transaction: string
  readonly account: string
  readonly asset: Asset
  readonly direction: "in" | "out"
  readonly amount: bigint
}

/** Settings of the cache. */
export interface BalanceCacheConfig {
  /** Blocks above a transaction's block before `refreshStale` clears its pending amounts. Default: 1. */
  readonly confirmations: number
  /** Balances kept in memory in front of the table (the least recently read evicted first); 0 reads the table every time. Default: 10,000. */
  readonly maxEntries: number
}

/** What `list` selects: every filter is optional; `account` needs `chain` (accounts are spelled per chain). */
export const ListQuery = Schema.Struct({
  chain: Schema.optional(Schema.String),
  account: Schema.optional(Schema.String),
  /** Only stale balances (`true`) or only fresh ones (`false`). */
  stale: Schema.optional(Schema.Boolean),
  /** Where the previous page ended (its `next`). */
  cursor: Schema.optional(Schema.String),
  /** At most this many balances (1–1,000). Default: 100. */
  limit: Schema.optional(Schema.Number)
})
/** @see ListQuery */
export type ListQuery = typeof ListQuery.Type

/** A page of cached balances, ordered by chain, account and asset; `next` reads the page after it. */
export const BalancePage = Schema.Struct({
  balances: Schema.Array(Balance),
  next: Schema.optional(Schema.String)
})
/** @see BalancePage */
export type BalancePage = typeof BalancePage.Type

/** The balance cache. */
export class BalanceCache extends Context.Service<BalanceCache, {
  /** A balance: cached, or read from the chain when missing, older than `maxAgeMillis`, or `verify` is asked. */
  read(chain: string, account: string, asset: Asset, options?: ReadOptions): Effect.Effect<Balance, WatchError>
  /**
   * Every asset of an account (`native` first, then by asset): cached, or
   * listed from the chain when the account was never listed, its activity
   * made the listing stale, it is older than `maxAgeMillis`, or `verify` is
   * asked; an asset cached but no longer held reads 0.
   */
  readAll(chain: string, account: string, options?: ReadOptions): Effect.Effect<ReadonlyArray<Balance>, WatchError>
  /** Records a pending transfer of a broadcast transaction. */
  addPending(pending: Pending): Effect.Effect<void, WatchError>
  /** Clears a transaction's pending transfers: it confirmed (its accounts' balances become stale) or failed. */
  settlePending(chain: string, transaction: string, outcome: "confirmed" | "failed"): Effect.Effect<void, WatchError>
  /** Tells the cache of recorded items: their accounts' balances become stale, their transactions' pending transfers confirm. */
  observe(chain: string, items: ReadonlyArray<WatchItem.WatchItem>): Effect.Effect<void, WatchError>
  /** Reads the chain for every stale balance, and settles pending transfers found confirmed or failed. */
  readonly refreshStale: Effect.Effect<UpkeepResult, WatchError>
  /** Reads the chain for every cached balance. */
  readonly reconcile: Effect.Effect<UpkeepResult, WatchError>
  /** The audit of changes, newest first, at most `limit`. */
  audit(limit?: number): Effect.Effect<ReadonlyArray<AuditEntry>, WatchError>
  /** Cached balances as the table holds them (nothing is read from the chain), a page at a time. */
  list(query?: ListQuery): Effect.Effect<BalancePage, WatchError>
}>()("@chainjobs/watch/BalanceCache") {}

const createTables = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const int64 = sql.onDialectOrElse({ pg: () => "bigint", orElse: () => "INTEGER" })
  const serial = sql.onDialectOrElse({ pg: () => "bigserial PRIMARY KEY", orElse: () => "INTEGER PRIMARY KEY AUTOINCREMENT" })
  yield* sql.unsafe(`CREATE TABLE ${balancesTable} (
    chain text NOT NULL,
    account text NOT NULL,
    asset text NOT NULL,
    amount text NOT NULL,
    checked_at ${int64} NOT NULL,
    stale integer NOT NULL,
    PRIMARY KEY (chain, account, asset)
  )`)
  yield* sql.unsafe(`CREATE INDEX ${balancesTable}_stale ON ${balancesTable} (stale)`)
  yield* sql.unsafe(`CREATE TABLE ${pendingTable} (
    chain text NOT NULL,
    tx text NOT NULL,
    account text NOT NULL,
    asset text NOT NULL,
    direction text NOT NULL,
    amount text NOT NULL,
    created_at ${int64} NOT NULL,
    PRIMARY KEY (chain, tx, account, asset, direction)
  )`)
  yield* sql.unsafe(`CREATE TABLE ${auditTable} (
    id ${serial},
    chain text NOT NULL,
    account text NOT NULL,
    asset text NOT NULL,
    cause text NOT NULL,
    before text,
    after text NOT NULL,
    drift integer NOT NULL,
    at ${int64} NOT NULL
  )`)
})

/** When each account's every asset was listed last, and whether its activity made that stale. */
const createListings = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const int64 = sql.onDialectOrElse({ pg: () => "bigint", orElse: () => "INTEGER" })
  yield* sql.unsafe(`CREATE TABLE ${listingsTable} (
    chain text NOT NULL,
    account text NOT NULL,
    listed_at ${int64} NOT NULL,
    stale integer NOT NULL,
    PRIMARY KEY (chain, account)
  )`)
})

/** Creates or upgrades the balance tables. */
export const migrate = Migrator.make({})({
  loader: Migrator.fromRecord({ "0001_create_balances": createTables, "0002_balance_listings": createListings }),
  table: "chainjobs_balances_migrations"
}).pipe(Effect.asVoid, Effect.mapError(storeFailed("migrate")))

type Row = Record<string, unknown>

/** A list cursor: the (chain, account, asset) a page ended at, as base64url JSON. */
const encodeCursor = (key: readonly [string, string, string]): string => Buffer.from(JSON.stringify(key)).toString("base64url")

/** The key of a cursor, or `null` when it is not one. */
const decodeCursor = (cursor: string): readonly [string, string, string] | null => {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"))
    return Array.isArray(key) && key.length === 3 && key.every((part) => typeof part === "string")
      ? key as unknown as [string, string, string]
      : null
  } catch {
    return null
  }
}

const invalid = (detail: string) => new WatchError({ reason: new Invalid({ watcher: "balances", detail }) })

/** Makes the cache on the `SqlClient` and the chain adapters in context. */
export const make = Effect.fnUntraced(function*(options: Partial<BalanceCacheConfig> = {}) {
  const confirmations = options.confirmations ?? 1
  const front = new BalanceFront(options.maxEntries ?? 10_000)
  const sql = yield* SqlClient.SqlClient
  const adapters = yield* ChainAdapters
  yield* migrate

  const db = <A, E>(operation: string, effect: Effect.Effect<A, E>) =>
    Effect.mapError(effect, (cause) => storeFailed(operation)(cause as { readonly message: string }))

  /**
   * The adapter of a chain a caller named: a chain with none (not configured) is bad input, `Invalid` as for a
   * watcher on it, not a chain's failure (which would answer 503, and a client would try again).
   */
  const namedAdapter = (chain: string) => Effect.mapError(adapters.adapter(chain), () => invalid(`unknown chain "${chain}"`))

  /** The asset and account in the chain's spelling (`native` stays), or `Invalid`. */
  const normalize = (chain: string, account: string, asset: Asset) =>
    Effect.gen(function*() {
      const adapter = yield* namedAdapter(chain)
      const who = adapter.normalizeAccount(account)
      if (!who.ok) return yield* invalid(who.detail)
      if (asset === "native") return { adapter, account: who.account, asset }
      if (adapter.normalizeAsset !== undefined) {
        const coin = adapter.normalizeAsset(asset)
        if (!coin.ok) return yield* invalid(`asset: ${coin.detail}`)
        return { adapter, account: who.account, asset: coin.asset }
      }
      const token = adapter.normalizeAccount(asset)
      if (!token.ok) return yield* invalid(`asset: ${token.detail}`)
      return { adapter, account: who.account, asset: token.account }
    })

  const sumPending = (rows: ReadonlyArray<Row>) => {
    let pendingIn = 0n
    let pendingOut = 0n
    for (const row of rows) {
      if (row.direction === "in") pendingIn += BigInt(row.pending as string)
      else if (row.direction === "out") pendingOut += BigInt(row.pending as string)
    }
    return { pendingIn, pendingOut }
  }

  const pendingOf = (chain: string, account: string, asset: string) =>
    db(
      "pending",
      sql<Row>`SELECT direction, amount AS pending FROM ${sql(pendingTable)}
        WHERE chain = ${chain} AND account = ${account} AND asset = ${asset}`
    ).pipe(Effect.map(sumPending))

  /** The cached amount with the pending transfers beside it, in one query: a row per pending transfer, or one without. */
  const cached = (chain: string, account: string, asset: string) =>
    db(
      "read",
      sql<Row>`SELECT b.amount, b.checked_at, b.stale, p.direction, p.amount AS pending
        FROM ${sql(balancesTable)} b LEFT JOIN ${sql(pendingTable)} p
          ON p.chain = b.chain AND p.account = b.account AND p.asset = b.asset
        WHERE b.chain = ${chain} AND b.account = ${account} AND b.asset = ${asset}`
    ).pipe(Effect.map((rows) => rows.length === 0 ? Option.none() : Option.some({ row: rows[0]!, ...sumPending(rows) })))

  /** The cached entry: from memory, else from the table (then kept in memory unless a change raced the query). */
  const entry = (chain: string, account: string, asset: string) =>
    Effect.suspend(() => {
      const hit = front.get(chain, account, asset)
      if (hit !== undefined) return Effect.succeed(Option.some(hit))
      const version = front.version
      return Effect.map(cached(chain, account, asset), (row) => {
        if (Option.isNone(row)) return Option.none<FrontEntry>()
        const filled: FrontEntry = {
          amount: BigInt(row.value.row.amount as string),
          checkedAt: Number(row.value.row.checked_at),
          stale: Number(row.value.row.stale) === 1,
          pendingIn: row.value.pendingIn,
          pendingOut: row.value.pendingOut
        }
        front.fill(version, chain, account, asset, filled)
        return Option.some(filled)
      })
    })

  /** Reads the chain and stores the amount, recording a change (as drift when the cached amount was not stale). */
  const fromChain = (chain: string, account: string, asset: string, cause: Cause) =>
    Effect.flatMap(adapters.adapter(chain), (adapter) =>
      Effect.flatMap(adapter.balance(account, asset), (amount) => store(chain, account, asset, amount, cause)))

  /** Stores an amount read from the chain, recording a change (as drift when the cached amount was not stale). */
  const store = (chain: string, account: string, asset: string, amount: bigint, cause: Cause) =>
    Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      const entry = yield* db("write", sql.withTransaction(Effect.gen(function*() {
        const [before] = yield* sql<Row>`SELECT amount, stale FROM ${sql(balancesTable)}
          WHERE chain = ${chain} AND account = ${account} AND asset = ${asset}`
        yield* sql`INSERT INTO ${sql(balancesTable)} ${
          sql.insert({ chain, account, asset, amount: amount.toString(), checked_at: at, stale: 0 })
        } ON CONFLICT (chain, account, asset) DO UPDATE SET amount = excluded.amount, checked_at = excluded.checked_at, stale = 0`
        const previous = before === undefined ? null : BigInt(before.amount as string)
        if (previous === amount) return undefined
        const drift = before !== undefined && Number(before.stale) === 0
        yield* sql`INSERT INTO ${sql(auditTable)} ${
          sql.insert({
            chain,
            account,
            asset,
            cause,
            before: previous === null ? null : previous.toString(),
            after: amount.toString(),
            drift: drift ? 1 : 0,
            at
          })
        }`
        return { drift }
      })))
      front.setAmount(chain, account, asset, amount, at)
      return { amount, at, changed: entry !== undefined, drift: entry?.drift ?? false }
    })

  /** Accounts and assets as asked, by chain, in the chain's spelling: a cached read skips normalizing them again. */
  const spelled = new Map<string, { readonly account: string; readonly asset: string }>()
  const spelledKey = (chain: string, account: string, asset: string) => `${chain}\u0000${account}\u0000${asset}`

  /** The balance as the front holds it, read at `now`. */
  const fromFront = (chain: string, account: string, asset: string, kept: FrontEntry, now: number): Balance => ({
    chain,
    account,
    asset,
    amount: kept.amount,
    pendingIn: kept.pendingIn,
    pendingOut: kept.pendingOut,
    checkedAt: kept.checkedAt,
    ageMillis: now - kept.checkedAt,
    stale: kept.stale,
    fromChain: false
  })

  const read = (chain: string, account: string, asset: Asset, readOptions: ReadOptions = {}) =>
    Effect.suspend(() => {
      // the fast path: spelled before, kept in the front, and neither verify nor max-age asked
      const known = readOptions.verify === true || readOptions.maxAgeMillis !== undefined
        ? undefined
        : spelled.get(spelledKey(chain, account, asset))
      const kept = known === undefined ? undefined : front.get(chain, known.account, known.asset)
      return known !== undefined && kept !== undefined
        ? Effect.map(Clock.currentTimeMillis, (now) => fromFront(chain, known.account, known.asset, kept, now))
        : slowRead(chain, account, asset, readOptions)
    })

  const slowRead = (chain: string, account: string, asset: Asset, readOptions: ReadOptions) =>
    Effect.gen(function*() {
      const key = yield* normalize(chain, account, asset)
      if (front.maxEntries > 0) {
        if (spelled.size >= 2 * front.maxEntries) spelled.clear()
        spelled.set(spelledKey(chain, account, asset), { account: key.account, asset: key.asset })
      }
      const now = yield* Clock.currentTimeMillis
      const row = yield* entry(chain, key.account, key.asset)
      const cause: Cause | undefined = Option.isNone(row)
        ? "fill"
        : readOptions.verify === true
        ? "verify"
        : readOptions.maxAgeMillis !== undefined && now - row.value.checkedAt > readOptions.maxAgeMillis
        ? "max-age"
        : undefined
      if (cause === undefined && Option.isSome(row)) return fromFront(chain, key.account, key.asset, row.value, now)
      const read = yield* fromChain(chain, key.account, key.asset, cause!)
      const pending = yield* pendingOf(chain, key.account, key.asset)
      return {
        chain,
        account: key.account,
        asset: key.asset,
        amount: read.amount,
        ...pending,
        checkedAt: read.at,
        ageMillis: 0,
        stale: false,
        fromChain: true
      } satisfies Balance
    })

  const markStale = (chain: string, accounts: ReadonlyArray<string>) =>
    accounts.length === 0
      ? Effect.void
      : db("markStale", Effect.andThen(
        sql`UPDATE ${sql(balancesTable)} SET stale = 1 WHERE chain = ${chain} AND ${sql.in("account", accounts)}`,
        sql`UPDATE ${sql(listingsTable)} SET stale = 1 WHERE chain = ${chain} AND ${sql.in("account", accounts)}`
      )).pipe(Effect.ensuring(Effect.sync(() => front.markStale(chain, accounts))))

  /** Native first, then by asset. */
  const byAsset = (a: Balance, b: Balance) =>
    a.asset === b.asset ? 0 : a.asset === "native" ? -1 : b.asset === "native" ? 1 : a.asset < b.asset ? -1 : 1

  const readAll = (chain: string, account: string, readOptions: ReadOptions = {}) =>
    Effect.gen(function*() {
      const { adapter, account: who } = yield* normalize(chain, account, "native")
      const now = yield* Clock.currentTimeMillis
      const [listing] = yield* db(
        "readAll",
        sql<Row>`SELECT listed_at, stale FROM ${sql(listingsTable)} WHERE chain = ${chain} AND account = ${who}`
      )
      const cachedAssets = (yield* db(
        "readAll",
        sql<Row>`SELECT asset FROM ${sql(balancesTable)} WHERE chain = ${chain} AND account = ${who}`
      )).map((row) => row.asset as string)
      const listed = listing !== undefined && Number(listing.stale) === 0 && readOptions.verify !== true &&
        (readOptions.maxAgeMillis === undefined || now - Number(listing.listed_at) <= readOptions.maxAgeMillis)
      if (listed) {
        const kept = yield* Effect.forEach(cachedAssets, (asset) => Effect.map(entry(chain, who, asset), (row) => ({ asset, row })))
        // every asset the listing found is still cached (upkeep never deletes one): answer from the cache
        return kept.flatMap(({ asset, row }) => Option.isSome(row) ? [fromFront(chain, who, asset, row.value, now)] : []).sort(byAsset)
      }
      const held = adapter.balances !== undefined
        ? yield* adapter.balances(who)
        : yield* Effect.forEach(
          Array.from(new Set(["native", ...cachedAssets])),
          (asset) => Effect.map(adapter.balance(who, asset), (amount) => ({ asset, amount })),
          { concurrency: 4 }
        )
      const amounts = new Map<string, bigint>(cachedAssets.map((asset) => [asset, 0n]))
      for (const { asset, amount } of held) amounts.set(asset, amount)
      const cause: Cause = listing === undefined ? "fill" : readOptions.verify === true ? "verify" : Number(listing.stale) === 1 ? "refresh" : "max-age"
      const balances: Array<Balance> = []
      for (const [asset, amount] of amounts) {
        const stored = yield* store(chain, who, asset, amount, cachedAssets.includes(asset) ? cause : "fill")
        const pending = yield* pendingOf(chain, who, asset)
        balances.push({ chain, account: who, asset, amount, ...pending, checkedAt: stored.at, ageMillis: 0, stale: false, fromChain: true })
      }
      yield* db(
        "readAll",
        sql`INSERT INTO ${sql(listingsTable)} ${sql.insert({ chain, account: who, listed_at: now, stale: 0 })}
          ON CONFLICT (chain, account) DO UPDATE SET listed_at = excluded.listed_at, stale = 0`
      )
      return balances.sort(byAsset)
    })

  const settlePending = (chain: string, transaction: string, outcome: "confirmed" | "failed") =>
    Effect.gen(function*() {
      const rows = yield* db(
        "settlePending",
        sql<Row>`DELETE FROM ${sql(pendingTable)} WHERE chain = ${chain} AND tx = ${transaction} RETURNING account, asset`
      )
      for (const row of rows) front.drop(chain, row.account as string, row.asset as string)
      if (outcome === "confirmed") yield* markStale(chain, rows.map((row) => row.account as string))
    })

  const upkeep = (rows: ReadonlyArray<Row>, cause: Cause) =>
    Effect.reduce(rows, (): UpkeepResult => ({ checked: 0, changed: 0, drifted: 0 }), (total, row) =>
      Effect.map(fromChain(row.chain as string, row.account as string, row.asset as string, cause), (result) => ({
        checked: total.checked + 1,
        changed: total.changed + (result.changed ? 1 : 0),
        drifted: total.drifted + (result.drift ? 1 : 0)
      })))

  const settleIncluded = Effect.gen(function*() {
    const rows = yield* db("pending", sql<Row>`SELECT DISTINCT chain, tx FROM ${sql(pendingTable)}`)
    for (const row of rows) {
      const chain = row.chain as string
      const adapter = yield* adapters.adapter(chain)
      const status = yield* adapter.transactionStatus(row.tx as string)
      if (status._tag === "Pending") continue
      if (!status.succeeded) yield* settlePending(chain, row.tx as string, "failed")
      else if ((yield* adapter.head) - status.block >= confirmations) yield* settlePending(chain, row.tx as string, "confirmed")
    }
  })

  const list = (query: ListQuery = {}) =>
    Effect.gen(function*() {
      const limit = query.limit ?? 100
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return yield* invalid(`limit must be an integer from 1 to 1000, not ${limit}`)
      if (query.account !== undefined && query.chain === undefined) return yield* invalid("an account filter needs the chain")
      let account = query.account
      if (query.chain !== undefined) {
        const adapter = yield* namedAdapter(query.chain)
        if (account !== undefined) {
          const who = adapter.normalizeAccount(account)
          if (!who.ok) return yield* invalid(who.detail)
          account = who.account
        }
      }
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
      if (after === null) return yield* invalid(`"${query.cursor}" is not a cursor of this list`)
      const where = [
        ...(query.chain === undefined ? [] : [sql`chain = ${query.chain}`]),
        ...(account === undefined ? [] : [sql`account = ${account}`]),
        ...(query.stale === undefined ? [] : [sql`stale = ${query.stale ? 1 : 0}`]),
        ...(after === undefined ? [] : [
          sql`(chain > ${after[0]} OR (chain = ${after[0]} AND (account > ${after[1]} OR (account = ${after[1]} AND asset > ${after[2]}))))`
        ])
      ]
      const rows = yield* db(
        "list",
        sql<Row>`SELECT chain, account, asset, amount, checked_at, stale FROM ${sql(balancesTable)}
          WHERE ${sql.and(where)} ORDER BY chain, account, asset LIMIT ${limit + 1}`
      )
      const page = rows.slice(0, limit)
      const pending = page.length === 0 ? [] : yield* db(
        "list",
        sql<Row>`SELECT chain, account, asset, direction, amount AS pending FROM ${sql(pendingTable)}
          WHERE ${sql.in("account", Array.from(new Set(page.map((row) => row.account as string))))}`
      )
      const now = yield* Clock.currentTimeMillis
      const balances = page.map((row): Balance => {
        const sums = sumPending(
          pending.filter((p) => p.chain === row.chain && p.account === row.account && p.asset === row.asset)
        )
        const checkedAt = Number(row.checked_at)
        return {
          chain: row.chain as string,
          account: row.account as string,
          asset: row.asset as string,
          amount: BigInt(row.amount as string),
          ...sums,
          checkedAt,
          ageMillis: now - checkedAt,
          stale: Number(row.stale) === 1,
          fromChain: false
        }
      })
      const last = page[page.length - 1]
      return rows.length > limit && last !== undefined
        ? { balances, next: encodeCursor([last.chain as string, last.account as string, last.asset as string]) }
        : { balances } satisfies BalancePage
    })

  return BalanceCache.of({
    read,
    readAll,
    list,
    addPending: (pending) =>
      Effect.gen(function*() {
        if (pending.amount <= 0n) return yield* invalid(`a pending amount must be positive, not ${pending.amount}`)
        const key = yield* normalize(pending.chain, pending.account, pending.asset)
        const at = yield* Clock.currentTimeMillis
        yield* db(
          "addPending",
          sql`INSERT INTO ${sql(pendingTable)} ${
            sql.insert({
              chain: pending.chain,
              tx: pending.transaction,
              account: key.account,
              asset: key.asset,
              direction: pending.direction,
              amount: pending.amount.toString(),
              created_at: at
            })
          } ON CONFLICT (chain, tx, account, asset, direction) DO UPDATE SET amount = excluded.amount`
        ).pipe(Effect.ensuring(Effect.sync(() => front.drop(pending.chain, key.account, key.asset))))
      }),
    settlePending,
    observe: (chain, items) =>
      Effect.gen(function*() {
        if (items.length === 0) return
        yield* markStale(chain, Array.from(new Set(items.flatMap(WatchItem.accounts))))
        for (const transaction of new Set(items.map((item) => item.transaction))) {
          yield* settlePending(chain, transaction, "confirmed")
        }
      }),
    refreshStale: Effect.gen(function*() {
      yield* settleIncluded
      const rows = yield* db("refreshStale", sql<Row>`SELECT chain, account, asset FROM ${sql(balancesTable)} WHERE stale = 1`)
      return yield* upkeep(rows, "refresh")
    }),
    reconcile: Effect.flatMap(
      db("reconcile", sql<Row>`SELECT chain, account, asset FROM ${sql(balancesTable)}`),
      (rows) => upkeep(rows, "reconcile")
    ),
    audit: (limit = 100) =>
      db("audit", sql<Row>`SELECT * FROM ${sql(auditTable)} ORDER BY id DESC LIMIT ${limit}`).pipe(
        Effect.map((rows) =>
          rows.map((row): AuditEntry => ({
            chain: row.chain as string,
            account: row.account as string,
            asset: row.asset as string,
            cause: row.cause as Cause,
            before: row.before === null ? null : BigInt(row.before as string),
            after: BigInt(row.after as string),
            drift: Number(row.drift) === 1,
            at: Number(row.at)
          }))
        )
      )
  })
})

/** The cache on the `SqlClient` and chain adapters provided. */
export const layer = (
  options: Partial<BalanceCacheConfig> = {}
): Layer.Layer<BalanceCache, WatchError, SqlClient.SqlClient | ChainAdapters> => Layer.effect(BalanceCache, make(options))
