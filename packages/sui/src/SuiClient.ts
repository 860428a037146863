/**
 * The client of one Sui network: `@mysten/sui`'s `SuiJsonRpcClient` whose
 * transport is the chain package's `JsonRpcClient` — an `EndpointPool` per
 * endpoint (keep-alive connections, rate limit, 429 pause, API-key headers),
 * a circuit breaker per endpoint, failover in order of preference and retries
 * of transient failures, the same core the EVM client stands on. Every SDK call is an
 * Effect failing with `ChainRequestError`; interrupting it aborts the request.
 *
 * @since 0.1.0
 */
import { ChainConfig, ChainRequestError, JsonRpcClient } from "@chainjobs/chain"
import type { JsonRpcTransport, JsonRpcTransportRequestOptions } from "@mysten/sui/jsonRpc"
import { SuiJsonRpcClient } from "@mysten/sui/jsonRpc"
import { Effect } from "effect"

/** One Sui network: its name, its endpoints (URL, headers, limits) and the client's limits, as `ChainConfig` has them. */
export type SuiConfig = Omit<ChainConfig.ChainConfig, "chainId" | "logRange">

/** A Sui network with its defaults filled in (those of `ChainConfig.chain`). */
export const network = (
  options: Omit<Parameters<typeof ChainConfig.chain>[0], "chainId" | "logRange">
): SuiConfig => {
  const { chainId: _chainId, logRange: _logRange, ...config } = ChainConfig.chain({ ...options, chainId: 0 })
  return config
}

/** The client of one Sui network. */
export interface SuiClient {
  /** The network's configured name. */
  readonly chain: string
  /** Runs one call of the SDK's JSON-RPC client; its requests go through the endpoint layers. */
  use<A>(f: (rpc: SuiJsonRpcClient, signal: AbortSignal) => Promise<A>): Effect.Effect<A, ChainRequestError.ChainRequestError>
  /** Every endpoint's circuit and pool. */
  readonly health: Effect.Effect<ReadonlyArray<JsonRpcClient.EndpointHealth>>
}

/** What opening a client needs: a scope for its connections, the rate limiter's and the circuit breakers' stores. */
export type Requirements = JsonRpcClient.Requirements

/** Opens a network's client; its connections close when the scope closes. */
export const make = Effect.fn("SuiClient.make")(function*(
  config: SuiConfig
): Effect.fn.Return<SuiClient, never, Requirements> {
  const core = yield* JsonRpcClient.make(config)
  const transport: JsonRpcTransport = {
    request: <T>(input: JsonRpcTransportRequestOptions) =>
      Effect.runPromise(core.request(input.method, input.params), input.signal === undefined ? undefined : { signal: input.signal }) as Promise<T>
  }
  const rpc = new SuiJsonRpcClient({ transport, network: config.name })
  const use = <A>(f: (rpc: SuiJsonRpcClient, signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({
      try: (signal) => f(rpc, signal),
      catch: (error) =>
        error instanceof ChainRequestError.ChainRequestError ? error : new ChainRequestError.ChainRequestError({
          reason: new ChainRequestError.InvalidResponse({ endpoint: config.name, detail: String((error as Error)?.message ?? error) })
        })
    })
  return { chain: config.name, use, health: core.health } satisfies SuiClient
})
