/**
 * What the watchers and the balance cache need from a chain family, and no
 * more: the head, block references (number, hash, parent hash) to check that
 * each confirmed range extends the last, a scan of a range for the activity of
 * monitored accounts and the events of monitored contracts, balances, and the
 * status of a transaction. EVM chains implement it in `EvmAdapter`; another
 * family (Sui: checkpoints, coin types, Move events) implements the same
 * interface, with `block` a checkpoint and `asset` a coin type.
 *
 * `ChainAdapters` hands out the adapter of each configured chain by name.
 *
 * @since 0.1.0
 */
import { Context, type Effect, type Stream } from "effect"
import type { WatchError } from "./WatchError.ts"
import type { WatchItem } from "./WatchItem.ts"

/** A block (or checkpoint) as far as following a chain needs it. */
export interface BlockRef {
  readonly number: number
  readonly hash: string
  readonly parentHash: string
}

/** A contract to watch and the events of it to decode, as signatures (`Transfer(address indexed from, address indexed to, uint256 value)` on EVM). */
export interface ContractWatch {
  readonly address: string
  readonly events: ReadonlyArray<string>
}

/** What to look for in a range: the activity of `accounts`, the events of `contracts`, the changes of `objects` (families with objects: Sui). */
export interface ScanFilter {
  readonly accounts: ReadonlyArray<string>
  readonly contracts: ReadonlyArray<ContractWatch>
  readonly objects?: ReadonlyArray<string> | undefined
}

/**
 * Where an interrupted scan of a range stopped, kept by the caller with its
 * cursor, as entries by key: `saved` holds what the last scan of the same
 * range saved (empty when none), `save` keeps entries beside them (an entry
 * of the same key replaced), all or none. A scan that reads a range in many
 * steps (Sui's: page by page, or checkpoints in runs) saves after each only
 * what the step moved or found — a query's cursor, a page's findings — and
 * resumes from `saved` instead of starting over; the entries are the
 * adapter's own (JSON).
 */
export interface ScanProgress {
  readonly saved: ReadonlyMap<string, unknown>
  save(entries: ReadonlyArray<readonly [string, unknown]>): Effect.Effect<void, WatchError>
}

/** One asset an account holds, as `balances` lists it. */
export interface AssetBalance {
  readonly asset: Asset
  readonly amount: bigint
}

/** An item as a scan finds it, before a watcher claims it. */
export type Detected = Omit<WatchItem, "watcher">

/** The asset of a balance: the chain's native asset, or a token contract / coin type. */
export type Asset = "native" | (string & {})

/** Where a sent transaction stands: not in a block yet, in block `block` and succeeded, or in it and failed. */
export type TransactionStatus =
  | { readonly _tag: "Pending" }
  | { readonly _tag: "Included"; readonly block: number; readonly succeeded: boolean }

/** One chain, as the watchers and the balance cache use it. */
export interface ChainAdapter {
  /** The chain's configured name. */
  readonly chain: string
  /** The chain family, e.g. `evm`. */
  readonly family: string
  /** The latest block number. */
  readonly head: Effect.Effect<number, WatchError>
  /**
   * New heads as the endpoint pushes them (a WebSocket subscription), when the
   * chain is configured with one; the stream fails when the subscription
   * breaks. Watchers poll `head` whether or not it is there: a push only
   * makes them look sooner.
   */
  readonly newHeads?: Stream.Stream<number, WatchError> | undefined
  /** References of the given blocks, in the order asked. */
  blocks(numbers: ReadonlyArray<number>): Effect.Effect<ReadonlyArray<BlockRef>, WatchError>
  /**
   * Everything in blocks `from`–`to` (inclusive) matching the filter, in chain
   * order, each with its block's hash; with `progress`, a scan in many steps
   * resumes where the last one of the same range stopped.
   */
  scan(filter: ScanFilter, from: number, to: number, progress?: ScanProgress): Effect.Effect<ReadonlyArray<Detected>, WatchError>
  /** An account's balance of an asset at the head, in the asset's smallest unit. */
  balance(account: string, asset: Asset): Effect.Effect<bigint, WatchError>
  /**
   * Every asset the account holds at the head (`native` first, then by
   * asset), when the family can list them in one read (Sui:
   * `suix_getAllBalances`); absent otherwise.
   */
  readonly balances?: ((account: string) => Effect.Effect<ReadonlyArray<AssetBalance>, WatchError>) | undefined
  /** Where a transaction stands. */
  transactionStatus(transaction: string): Effect.Effect<TransactionStatus, WatchError>
  /** The account in the chain's canonical spelling, or an explanation of why it is not one. */
  normalizeAccount(account: string): { readonly ok: true; readonly account: string } | { readonly ok: false; readonly detail: string }
  /** Why a contract watch cannot be decoded, if it cannot (a bad address or event signature). */
  checkContract(contract: ContractWatch): string | undefined
  /** An asset (not `native`) in the chain's canonical spelling, or why it is not one, where assets are not written as accounts (Sui coin types); absent: an asset is spelled as an account (EVM token contracts). */
  readonly normalizeAsset?: ((asset: string) => { readonly ok: true; readonly asset: string } | { readonly ok: false; readonly detail: string }) | undefined
  /** An object id in the chain's canonical spelling, or why it is not one; absent in families without objects to watch (EVM). */
  readonly normalizeObject?: ((object: string) => { readonly ok: true; readonly object: string } | { readonly ok: false; readonly detail: string }) | undefined
}

/** The adapters of the configured chains, by chain name. */
export class ChainAdapters extends Context.Service<ChainAdapters, {
  /** The adapter of a chain; `WatchError` with reason `ChainFailed` for an unknown chain. */
  adapter(chain: string): Effect.Effect<ChainAdapter, WatchError>
}>()("@chainjobs/watch/ChainAdapters") {}
