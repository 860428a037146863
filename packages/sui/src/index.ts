/**
 * @chainjobs/sui — the Sui chain family: a JSON-RPC client on `@mysten/sui`
 * over the chain package's endpoint layers, a `ChainAdapter` for the watchers
 * and the balance cache, and a connection check.
 *
 * @since 0.1.0
 */
export * as SuiAdapter from "./SuiAdapter.ts"
export * as SuiCheck from "./SuiCheck.ts"
export * as SuiClient from "./SuiClient.ts"
export * as SuiTransaction from "./SuiTransaction.ts"
