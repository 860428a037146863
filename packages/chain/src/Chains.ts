/**
 * The chains a process talks to, several at once, each with its own
 * endpoints and limits (seed 002's `connect_to_chain` / `get_connection`):
 * the `Chains` service hands out each configured chain's `EvmClient`. Rate
 * limits and circuits live in the `RateLimiterStore` and
 * `CircuitBreakerStore` provided to `layer`: `layerMemory` uses the memory
 * stores; provide the Redis stores of `effect/persistence` to share them
 * between processes. `layerDev` is the embedded default: a local dev chain
 * configured as the chain `dev`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import * as ChainConfig from "./ChainConfig.ts"
import * as DevChain from "./DevChain.ts"
import * as EvmClient from "./EvmClient.ts"
import { RpcError, UnknownChain } from "./RpcError.ts"

/** The configured chains' clients. */
export class Chains extends Context.Service<Chains, {
  /** The names of the configured chains. */
  readonly names: ReadonlyArray<string>
  /** The client of a chain, by name. */
  client(chain: string): Effect.Effect<EvmClient.EvmClient, RpcError>
}>()("@chainjobs/chain/Chains") {}

/** Opens a client per chain; their connections close when the scope closes. */
export const make = Effect.fn("Chains.make")(function*(chains: ReadonlyArray<ChainConfig.ChainConfig>) {
  const clients = new Map<string, EvmClient.EvmClient>()
  for (const config of chains) clients.set(config.name, yield* EvmClient.make(config))
  return Chains.of({
    names: chains.map((config) => config.name),
    client: (chain) => {
      const client = clients.get(chain)
      return client === undefined ? Effect.fail(new RpcError({ reason: new UnknownChain({ chain }) })) : Effect.succeed(client)
    }
  })
})

/** The chains, with rate limits and circuits in the provided stores. */
export const layer = (
  chains: ReadonlyArray<ChainConfig.ChainConfig>
): Layer.Layer<Chains, never, RateLimiter.RateLimiterStore | CircuitBreaker.CircuitBreakerStore> =>
  Layer.effect(Chains, make(chains)).pipe(Layer.provide(RateLimiter.layer))

/** The chains, with rate limits and circuits in memory. */
export const layerMemory = (chains: ReadonlyArray<ChainConfig.ChainConfig>): Layer.Layer<Chains> =>
  layer(chains).pipe(
    Layer.provide([RateLimiter.layerStoreMemory, CircuitBreaker.layerStoreMemory()])
  )

/** A dev chain (see `DevChain`) started for the layer's lifetime and configured as the chain `dev`, on memory stores. */
export const layerDev = (
  options: Partial<DevChain.DevChainOptions> = {}
): Layer.Layer<Chains | DevChain.DevChain, DevChain.DevChainError> =>
  Layer.unwrap(DevChain.DevChain.use((chain) =>
    Effect.succeed(layerMemory([
      ChainConfig.chain({ name: "dev", chainId: chain.chainId, endpoints: [{ url: chain.url }] })
    ]))
  )).pipe(Layer.provideMerge(DevChain.layer(options)))
