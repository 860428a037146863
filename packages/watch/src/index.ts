/**
 * @chainjobs/watch — continuous chain watchers with exactly-once item
 * processing through reorgs, and a balance cache.
 *
 * @since 0.1.0
 */
export * as BalanceAge from "./BalanceAge.ts"
export * as BalanceCache from "./BalanceCache.ts"
export * as BalanceFront from "./BalanceFront.ts"
export * as BalanceUpkeep from "./BalanceUpkeep.ts"
export * as ChainAdapter from "./ChainAdapter.ts"
export * as EvmAdapter from "./EvmAdapter.ts"
export * as ItemPage from "./ItemPage.ts"
export * as WatchAccess from "./WatchAccess.ts"
export * as WatchApi from "./WatchApi.ts"
export * as WatchError from "./WatchError.ts"
export * as Watchers from "./Watchers.ts"
export * as WatchItem from "./WatchItem.ts"
export * as WatchProcessor from "./WatchProcessor.ts"
export * as WatchStore from "./WatchStore.ts"
