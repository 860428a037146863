/**
 * @chainjobs/chain — EVM client layers (pool, rate limit, circuit breaker,
 * failover) and chain operations as chainjobs task kinds.
 *
 * @since 0.1.0
 */
export * as Activity from "./Activity.ts"
export * as AddressScan from "./AddressScan.ts"
export * as BlockFeed from "./BlockFeed.ts"
export * as BlockValidation from "./BlockValidation.ts"
export * as ChainCheck from "./ChainCheck.ts"
export * as ChainConfig from "./ChainConfig.ts"
export * as ChainRequestError from "./ChainRequestError.ts"
export * as Chains from "./Chains.ts"
export * as ChainTasks from "./ChainTasks.ts"
export * as EndpointLabel from "./EndpointLabel.ts"
export * as EndpointPool from "./EndpointPool.ts"
export * as EvmClient from "./EvmClient.ts"
export * as JsonRpcClient from "./JsonRpcClient.ts"
export * as ProviderErrors from "./ProviderErrors.ts"
export * as SignedTransaction from "./SignedTransaction.ts"
