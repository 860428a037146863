/**
 * @chainjobs/chain — EVM client layers (pool, rate limit, circuit breaker,
 * failover) and chain operations as chainjobs task kinds.
 *
 * @since 0.1.0
 */
export * as DevChain from "./DevChain.ts"
export * as Activity from "./Activity.ts"
export * as DevSeed from "./DevSeed.ts"
