/**
 * A connection check of a Sui endpoint: the chain identifier it serves (the
 * first four bytes of its genesis checkpoint digest, `sui_getChainIdentifier`),
 * its latest checkpoint, and how long the two reads took — what to run
 * against a real endpoint before pointing watchers at it.
 *
 * @since 0.1.0
 */
import { type ChainRequestError, EndpointLabel } from "@chainjobs/chain"
import { Clock, Effect, Layer, Schema } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import * as SuiClient from "./SuiClient.ts"

/** What a check found. */
export const SuiCheckResult = Schema.Struct({
  /** The endpoint checked (the network's first endpoint). */
  endpoint: Schema.String,
  /** The chain identifier, 8 hex digits (`35834a8a` is mainnet, `4c78adac` testnet). */
  chainIdentifier: Schema.String,
  /** The latest checkpoint's sequence number. */
  latestCheckpoint: Schema.Int,
  /** How long the two reads took, in milliseconds. */
  latencyMillis: Schema.Number
})
/** @see SuiCheckResult */
export type SuiCheckResult = typeof SuiCheckResult.Type

/** Checks a network's client: chain identifier, latest checkpoint and latency; fails with the endpoint's `ChainRequestError`. */
export const check = (client: SuiClient.SuiClient, endpoint: string): Effect.Effect<SuiCheckResult, ChainRequestError.ChainRequestError> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const chainIdentifier = yield* client.use((rpc, signal) =>
      rpc.call<string>("sui_getChainIdentifier", [], { signal }))
    const latest = yield* client.use((rpc, signal) => rpc.getLatestCheckpointSequenceNumber({ signal }))
    const latencyMillis = (yield* Clock.currentTimeMillis) - start
    return { endpoint, chainIdentifier, latestCheckpoint: Number(latest), latencyMillis }
  })

const memoryStores = Layer.mergeAll(RateLimiter.layer, CircuitBreaker.layerStoreMemory()).pipe(
  Layer.provideMerge(RateLimiter.layerStoreMemory)
)

/**
 * Checks a network from its configuration, through the same endpoint layers
 * (failover across its endpoints included) on connections of its own: what
 * `chainjobs sui check` and the service's check route run. A check answers
 * quickly rather than patiently: two retries of a transient failure (100 ms,
 * then 200 ms apart), so a network that keeps failing is reported within
 * seconds. The connections close when the check ends.
 */
export const checkNetwork = (config: SuiClient.SuiConfig): Effect.Effect<SuiCheckResult, ChainRequestError.ChainRequestError> =>
  SuiClient.make({ ...config, retry: { times: 2, base: "100 millis", max: "1 second" } }).pipe(
    Effect.flatMap((client) => check(client, config.endpoints[0] === undefined ? config.name : EndpointLabel.label(config.endpoints[0].url))),
    Effect.scoped,
    Effect.provide(memoryStores)
  )

/** Checks one endpoint by URL, with its headers (e.g. an API key): `checkNetwork` of a network of that one endpoint. */
export const checkUrl = (
  url: string,
  options: { readonly headers?: Readonly<Record<string, string>> | undefined } = {}
): Effect.Effect<SuiCheckResult, ChainRequestError.ChainRequestError> =>
  checkNetwork(SuiClient.network({ name: url, endpoints: [{ url, headers: options.headers ?? {} }] }))
