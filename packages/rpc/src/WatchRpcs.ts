/**
 * The RPC group of the watchers and the balance cache (`@chainjobs/watch`):
 * list, read, add, pause, resume, change the accounts of and remove
 * watchers, read their lag and item audit, read a balance (cached, or from
 * the chain with `maxAgeMillis` or `verify`) and list the cached balances.
 *
 * Calls pass the same middlewares as `TaskRpcs` (`Authentication`, then
 * `RequestValidation`: a payload that does not match its Schema fails with
 * `MalformedRequest` and changes nothing) and the access rule of
 * `WatchAccess`: any principal reads, only an admin changes
 * (`WatchForbidden` otherwise). Failures of the watch package cross the wire
 * as its `WatchError`, whose `reason` says which (`UnknownWatcher`,
 * `Invalid` — nothing written —, `DeepReorg`, `ChainFailed`, `StoreFailed`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import { BalanceAge, BalanceCache, ItemPage, WatchAccess, WatchError, Watchers } from "@chainjobs/watch"
import { Authentication } from "./Auth.ts"
import { lenient } from "./internal/lenient.ts"
import { RequestValidation } from "./TaskRpcs.ts"

/** The errors of a read. */
export const ReadError = WatchError.WatchError

/** The errors of a change: those of a read, or the caller is not an admin. */
export const ChangeError = Schema.Union([WatchError.WatchError, WatchAccess.WatchForbidden])

const ByName = lenient(Schema.Struct({ name: Schema.String }))

/** What `WatcherItems` asks: a watcher's name, where the previous page ended (its `next`) and how many items at most. */
const ItemsRequest = lenient(Schema.Struct({ name: Schema.String, ...ItemPage.ItemQuery.fields }))

/** What `ReadBalance` asks: the balance of `account` in `asset` (`native` or a token) on `chain`. */
export const BalanceRequest = Schema.Struct({
  chain: Schema.String,
  account: Schema.String,
  asset: Schema.String,
  /** Read the chain when the cached amount is older than this many milliseconds (whole, 0 to `BalanceAge.maxAgeMillisLimit`). */
  maxAgeMillis: Schema.optional(BalanceAge.MaxAgeMillis),
  /** Read the chain whatever the cached amount's age (before a critical operation). */
  verify: Schema.optional(Schema.Boolean)
})
/** @see BalanceRequest */
export type BalanceRequest = typeof BalanceRequest.Type

/** What `ReadAllBalances` asks: every asset of `account` on `chain`. */
export const AllBalancesRequest = Schema.Struct({
  chain: Schema.String,
  account: Schema.String,
  /** List from the chain when the listing is older than this many milliseconds (whole, 0 to `BalanceAge.maxAgeMillisLimit`). */
  maxAgeMillis: Schema.optional(BalanceAge.MaxAgeMillis),
  /** List from the chain whatever the listing's age. */
  verify: Schema.optional(Schema.Boolean)
})
/** @see AllBalancesRequest */
export type AllBalancesRequest = typeof AllBalancesRequest.Type

/** What `SetAccounts` asks: the watcher's new account set, from `fromBlock` on (default: after its confirmed cursor). */
export const AccountsRequest = Schema.Struct({
  name: Schema.String,
  accounts: Schema.Array(Schema.String),
  fromBlock: Schema.optional(Schema.Int)
})

/** The RPC group of watchers and balances. */
export class WatchRpcs extends RpcGroup.make(
  /** Every watcher as it stands. */
  Rpc.make("ListWatchers", { success: Schema.Array(Watchers.WatcherInfo), error: ReadError }),
  /** One watcher as it stands. */
  Rpc.make("GetWatcher", { payload: ByName, success: Watchers.WatcherInfo, error: ReadError }),
  /** How far behind a watcher is: the head it saw last, its confirmed and processed cursors. */
  Rpc.make("WatcherLag", { payload: ByName, success: Watchers.Lag, error: ReadError }),
  /** The items a watcher detected, in chain order, with their processing outcome, a page at a time (`ItemPage`). */
  Rpc.make("WatcherItems", { payload: ItemsRequest, success: ItemPage.ItemPage, error: ReadError }),
  /** Adds a watcher (started unless `paused`). */
  Rpc.make("AddWatcher", { payload: lenient(Watchers.WatcherSpec), success: Watchers.WatcherInfo, error: ChangeError }),
  /** Pauses a watcher's loop. */
  Rpc.make("PauseWatcher", { payload: ByName, error: ChangeError }),
  /** Resumes a paused watcher. */
  Rpc.make("ResumeWatcher", { payload: ByName, error: ChangeError }),
  /** Replaces a watcher's account set from a block on; returns that block. */
  Rpc.make("SetAccounts", { payload: lenient(AccountsRequest), success: Schema.Int, error: ChangeError }),
  /** Removes a watcher and its cursor (its item audit stays). */
  Rpc.make("RemoveWatcher", { payload: ByName, error: ChangeError }),
  /** A balance: cached with its age, or read from the chain when missing, older than `maxAgeMillis`, or `verify` is set. */
  Rpc.make("ReadBalance", { payload: lenient(BalanceRequest), success: BalanceCache.Balance, error: ReadError }),
  /** Every asset of an account, native first (see `BalanceCache.readAll`). */
  Rpc.make("ReadAllBalances", { payload: lenient(AllBalancesRequest), success: Schema.Array(BalanceCache.Balance), error: ReadError }),
  /** Cached balances as stored (no chain reads), a page at a time (pass `next` as `cursor`). */
  Rpc.make("ListBalances", { payload: lenient(BalanceCache.ListQuery), success: BalanceCache.BalancePage, error: ReadError })
).middleware(RequestValidation).middleware(Authentication) {}
