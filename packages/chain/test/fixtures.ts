/** Shared test setup: a seeded dev chain, chain configs with quick retries, clients on memory stores. */
import { Context, Effect, Layer } from "effect"
import { type Address, type Hex, hexToNumber, type TransactionSerializableEIP1559 } from "viem"
import { privateKeyToAccount } from "viem/accounts"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import { Tasks, TasksConfig } from "@chainjobs/tasks"
import * as BlockFeed from "../src/BlockFeed.ts"
import * as ChainConfig from "../src/ChainConfig.ts"
import * as Chains from "../src/Chains.ts"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import * as EvmClient from "../src/EvmClient.ts"

/** The activity seeded on the shared dev chain. */
export class Seeded extends Context.Service<Seeded, DevSeed.Seeded>()("test/Seeded") {}

/** A dev chain with known activity, shared by the tests of a file. */
export const seededChain = (options: Partial<DevSeed.SeedOptions> = {}) =>
  Layer.effect(Seeded, DevSeed.seed(options)).pipe(Layer.provideMerge(DevChain.layer()))

type ChainOptions = Omit<Parameters<typeof ChainConfig.chain>[0], "name" | "chainId" | "endpoints">

/** The dev chain behind the given endpoints, with retries and circuits quick enough for tests. */
export const devChainConfig = (
  endpoints: ReadonlyArray<string | Partial<ChainConfig.EndpointConfig> & { readonly url: string }>,
  options: ChainOptions = {}
) =>
  ChainConfig.chain({
    name: "dev",
    chainId: DevChain.chainId,
    endpoints: endpoints.map((endpoint) => typeof endpoint === "string" ? { url: endpoint } : endpoint),
    requestTimeout: "500 millis",
    headTtl: "10 millis",
    ...options,
    retry: { base: "5 millis", max: "50 millis", times: 10, ...options.retry },
    breaker: { failures: 3, openDuration: "100 millis", ...options.breaker }
  })

/**
 * A client of its own (own limiter and circuits), closed with the scope; its rate limiter keeps its budgets in
 * `limiterStore` (memory unless a test gives a store of its own, such as one that fails).
 */
export const client = (
  config: ChainConfig.ChainConfig,
  limiterStore: Layer.Layer<RateLimiter.RateLimiterStore> = RateLimiter.layerStoreMemory
) =>
  Layer.build(Layer.mergeAll(
    RateLimiter.layer.pipe(Layer.provide(limiterStore)),
    CircuitBreaker.layerStoreMemory()
  )).pipe(Effect.flatMap((stores) => EvmClient.make(config).pipe(Effect.provideContext(stores))))

/** The supervisor (it needs a task store) with the given kinds, over the given chains, with a memory block feed. */
export const supervisor = <E, R>(
  kinds: Layer.Layer<never, E, R>,
  chains: ReadonlyArray<ChainConfig.ChainConfig>,
  options: Partial<TasksConfig.TasksConfig["Service"]> = {}
) =>
  kinds.pipe(
    Layer.provideMerge(Tasks.layer(options)),
    Layer.provideMerge(Chains.layerMemory(chains)),
    Layer.provideMerge(BlockFeed.layerMemory)
  )

/**
 * Dev account `index` of the node as a signer: its next nonce (pending included) and `sign`, which signs an
 * EIP-1559 transfer of 0.001 ETH to `to` with that nonce and ample fees, `overrides` replacing any field.
 */
export const signer = (index: number, to: Address, gas: bigint) =>
  Effect.gen(function*() {
    const chain = yield* DevChain.DevChain
    const evm = yield* client(devChainConfig([chain.url]))
    const sender = privateKeyToAccount(chain.accounts[index]!.privateKey)
    const nonce = hexToNumber((yield* evm.request("eth_getTransactionCount", [sender.address, "pending"])) as Hex)
    const sign = (overrides: Partial<TransactionSerializableEIP1559> = {}) =>
      Effect.promise(() =>
        sender.signTransaction({
          type: "eip1559",
          chainId: chain.chainId,
          nonce,
          gas,
          maxFeePerGas: 10n ** 11n,
          maxPriorityFeePerGas: 10n ** 9n,
          to,
          value: 10n ** 15n,
          ...overrides
        })
      )
    return { chain, evm, nonce, sign }
  })
