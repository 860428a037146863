/**
 * Configuration of the chains a process talks to, as data. Each chain has
 * one or more endpoints (tried in order: the first is the primary, the
 * others are failovers) and its own limits; every field not given takes the
 * default documented here (`endpoint` and `chain` fill them in).
 *
 * ```ts
 * const mainnet = ChainConfig.chain({
 *   name: "mainnet",
 *   chainId: 1,
 *   endpoints: [{ url: "https://a.example", rateLimit: { limit: 25, window: "1 second" } }, { url: "https://b.example" }]
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"

/** A request budget: at most `limit` requests (batch items count one each) per `window`. */
export interface RateLimit {
  readonly limit: number
  readonly window: Duration.Input
}

/** One JSON-RPC endpoint of a chain. */
export interface EndpointConfig {
  /** The HTTP(S) JSON-RPC URL. */
  readonly url: string
  /** Connections kept open to the endpoint at most. Default: 8. */
  readonly maxConnections: number
  /** How long a request waits for a free connection before failing with `PoolExhausted`. Default: 5 seconds. */
  readonly acquireTimeout: Duration.Input
  /** How long an unused connection is kept open. Default: 30 seconds. */
  readonly idleTimeout: Duration.Input
  /** The endpoint's request budget (token bucket; requests wait for a token). Default: none. */
  readonly rateLimit: RateLimit | undefined
  /** How long the endpoint is paused after a 429 that carries no `Retry-After`. Default: 1 second. */
  readonly rateLimitedPause: Duration.Input
  /** Headers sent with every request, e.g. a provider's API key (`{"x-api-key": "…"}`). Default: none. */
  readonly headers: Readonly<Record<string, string>>
}

/** Retries of transient failures: jittered exponential backoff. */
export interface RetryConfig {
  /** Retries after the first attempt. Default: 6. */
  readonly times: number
  /** The first delay, doubled after each retry. Default: 100 millis. */
  readonly base: Duration.Input
  /** The longest delay. Default: 5 seconds. */
  readonly max: Duration.Input
}

/** When an endpoint's circuit opens, and for how long. */
export interface BreakerConfig {
  /** Consecutive transient failures that open the circuit. Default: 5. */
  readonly failures: number
  /** How long the circuit stays open before a probe request. Default: 5 seconds. */
  readonly openDuration: Duration.Input
}

/**
 * `eth_getLogs` block ranges: they halve when a node rejects a range as too large, and double after a query of the
 * whole range succeeds — up to below the smallest range rejected, which is tried again only after a run of whole
 * ranges accepted (`EvmClient.ceilingRetryAfter`).
 */
export interface LogRangeConfig {
  /** The first range tried, in blocks. Default: 2000. */
  readonly initial: number
  /** The smallest range; a rejection at this size is final. Default: 1. */
  readonly min: number
  /** The largest range. Default: 10000. */
  readonly max: number
}

/** One chain. */
export interface ChainConfig {
  /** The name callers and task payloads use, e.g. `mainnet`. */
  readonly name: string
  /** The EIP-155 chain id. */
  readonly chainId: number
  /** Its endpoints, in order of preference. */
  readonly endpoints: ReadonlyArray<EndpointConfig>
  /** Time limit of one request to one endpoint (not counting the wait for a connection). Default: 10 seconds. */
  readonly requestTimeout: Duration.Input
  /** Retries of transient failures. */
  readonly retry: RetryConfig
  /** The circuit breaker of each endpoint. */
  readonly breaker: BreakerConfig
  /**
   * How long the chain head (the latest block number) is cached: reads of the head within it cost no request.
   * Default: 10 seconds; a chain with fast blocks, or a task following the head closely, wants less.
   */
  readonly headTtl: Duration.Input
  /** Requests per JSON-RPC batch for block and receipt reads. Default: 50. */
  readonly batchSize: number
  /** Batches of one read in flight at once. Default: 4. */
  readonly batchConcurrency: number
  /** `eth_getLogs` ranges. */
  readonly logRange: LogRangeConfig
}

/** The endpoint defaults. */
export const endpointDefaults: Omit<EndpointConfig, "url"> = {
  maxConnections: 8,
  acquireTimeout: "5 seconds",
  idleTimeout: "30 seconds",
  rateLimit: undefined,
  rateLimitedPause: "1 second",
  headers: {}
}

/** The chain defaults. */
export const chainDefaults: Omit<ChainConfig, "name" | "chainId" | "endpoints"> = {
  requestTimeout: "10 seconds",
  retry: { times: 6, base: "100 millis", max: "5 seconds" },
  breaker: { failures: 5, openDuration: "5 seconds" },
  headTtl: "10 seconds",
  batchSize: 50,
  batchConcurrency: 4,
  logRange: { initial: 2000, min: 1, max: 10000 }
}

/** An endpoint with its defaults filled in. */
export const endpoint = (options: Partial<EndpointConfig> & Pick<EndpointConfig, "url">): EndpointConfig => ({
  ...endpointDefaults,
  ...options
})

/** A chain with its defaults filled in (nested groups are merged field by field). */
export const chain = (
  options:
    & Pick<ChainConfig, "name" | "chainId">
    & Partial<Omit<ChainConfig, "name" | "chainId" | "endpoints" | "retry" | "breaker" | "logRange">>
    & {
      readonly endpoints: ReadonlyArray<Partial<EndpointConfig> & Pick<EndpointConfig, "url">>
      readonly retry?: Partial<RetryConfig> | undefined
      readonly breaker?: Partial<BreakerConfig> | undefined
      readonly logRange?: Partial<LogRangeConfig> | undefined
    }
): ChainConfig => ({
  ...chainDefaults,
  ...options,
  endpoints: options.endpoints.map(endpoint),
  retry: { ...chainDefaults.retry, ...options.retry },
  breaker: { ...chainDefaults.breaker, ...options.breaker },
  logRange: { ...chainDefaults.logRange, ...options.logRange }
})
