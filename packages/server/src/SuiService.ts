/**
 * The service's Sui networks (`ServerConfig.suiNetworks`): their clients on
 * the chain package's endpoint layers, served beside the EVM chains' adapters
 * as one `ChainAdapters`, so the watchers and the balance cache take a Sui
 * network's name wherever they take a chain's (`CHAINJOBS_WATCHERS`,
 * `/api/watch`, `chainjobs watchers add`, `chainjobs balance`).
 *
 * @since 0.1.0
 */
import { type Chains } from "@chainjobs/chain"
import { SuiAdapter, SuiClient } from "@chainjobs/sui"
import { type ChainAdapter, EvmAdapter } from "@chainjobs/watch"
import { Layer } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import { endpointOptions, limitOptions, type ServerSettings } from "./ServerConfig.ts"

/** The configured Sui networks as `@chainjobs/sui` configuration. */
export const suiConfigs = (settings: ServerSettings): ReadonlyArray<SuiClient.SuiConfig> =>
  settings.suiNetworks.map((network) =>
    SuiClient.network({
      name: network.name,
      endpoints: network.endpoints.map(endpointOptions),
      ...limitOptions(network)
    })
  )

/**
 * The adapters the watchers and the balance cache use: the EVM chains', and
 * the Sui networks' beside them when any are configured (their rate limits
 * and circuits kept in memory, as the service keeps its chains').
 */
export const layerAdapters = (settings: ServerSettings): Layer.Layer<ChainAdapter.ChainAdapters, never, Chains.Chains> =>
  settings.suiNetworks.length === 0
    ? EvmAdapter.layer
    : SuiAdapter.layerBeside(suiConfigs(settings)).pipe(
      Layer.provide(EvmAdapter.layer),
      Layer.provide([RateLimiter.layerStoreMemory, CircuitBreaker.layerStoreMemory()])
    )
