/**
 * The chains a process talks to, several at once, each with its own
 * endpoints and limits:
 * the `Chains` service hands out each connected chain's `EvmClient`, and
 * connects or disconnects chains while it runs. Rate
 * limits and circuits live in the `RateLimiterStore` and
 * `CircuitBreakerStore` provided to `layer`: `layerMemory` uses the memory
 * stores; provide the Redis stores of `effect/persistence` to share them
 * between processes. `@chainjobs/devchain` adds a local dev chain as the
 * chain `dev` (`DevChain.layerChains`).
 *
 * @since 0.1.0
 */
import { Context, Effect, Exit, Layer, Scope, Semaphore } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import * as ChainConfig from "./ChainConfig.ts"
import * as EvmClient from "./EvmClient.ts"
import { ChainRequestError, UnknownChain } from "./ChainRequestError.ts"

/** The chains' clients. */
export class Chains extends Context.Service<Chains, {
  /** The names of the connected chains. */
  readonly names: Effect.Effect<ReadonlyArray<string>>
  /** The client of a chain, by name. */
  client(chain: string): Effect.Effect<EvmClient.EvmClient, ChainRequestError>
  /** Connects a chain (or returns the client of the connected chain of that name). */
  connect(config: ChainConfig.ChainConfig): Effect.Effect<EvmClient.EvmClient>
  /** Closes a chain's connections and forgets it; nothing happens for an unknown name. */
  disconnect(chain: string): Effect.Effect<void>
}>()("@chainjobs/chain/Chains") {}

/** Connects the given chains; every chain's connections close when the scope closes. */
export const make = Effect.fn("Chains.make")(function*(chains: ReadonlyArray<ChainConfig.ChainConfig>) {
  const scope = yield* Effect.scope
  const stores = yield* Effect.context<RateLimiter.RateLimiter | CircuitBreaker.CircuitBreakerStore>()
  const connected = new Map<string, { readonly client: EvmClient.EvmClient; readonly scope: Scope.Closeable }>()
  const lock = yield* Semaphore.make(1)

  const connect = (config: ChainConfig.ChainConfig) =>
    lock.withPermit(Effect.gen(function*() {
      const existing = connected.get(config.name)
      if (existing !== undefined) return existing.client
      const own = yield* Scope.fork(scope)
      const client = yield* EvmClient.make(config).pipe(Scope.provide(own), Effect.provideContext(stores))
      connected.set(config.name, { client, scope: own })
      return client
    }))

  const disconnect = (chain: string) =>
    lock.withPermit(Effect.suspend(() => {
      const entry = connected.get(chain)
      if (entry === undefined) return Effect.void
      connected.delete(chain)
      return Scope.close(entry.scope, Exit.void)
    }))

  yield* Effect.forEach(chains, connect, { discard: true })
  return Chains.of({
    names: Effect.sync(() => Array.from(connected.keys())),
    client: (chain) =>
      Effect.suspend(() => {
        const entry = connected.get(chain)
        return entry === undefined
          ? Effect.fail(new ChainRequestError({ reason: new UnknownChain({ chain }) }))
          : Effect.succeed(entry.client)
      }),
    connect,
    disconnect
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
