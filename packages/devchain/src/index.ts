/**
 * @chainjobs/devchain — a local Hardhat dev chain: the node, known activity
 * on it, and the chain `dev` wired into `@chainjobs/chain`. Tooling for
 * tests, examples, benchmarks and the service's embedded default; the chain
 * library itself runs against any endpoint without it.
 *
 * @since 0.1.0
 */
export * as DevChain from "./DevChain.ts"
export * as DevSeed from "./DevSeed.ts"
