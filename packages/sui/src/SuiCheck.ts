/**
 * A connection check of a Sui endpoint: the chain identifier it serves (the
 * first four bytes of its genesis checkpoint digest, `sui_getChainIdentifier`),
 * its latest checkpoint, and how long the two reads took — what to run
 * against a real endpoint before pointing watchers at it.
 *
 * @since 0.1.0
 */
import type { ChainRequestError } from "@chainjobs/chain"
import { Clock, Effect, Layer } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import * as SuiClient from "./SuiClient.ts"

/** What a check found. */
export interface SuiCheckResult {
  /** The endpoint checked (the network's first endpoint). */
  readonly endpoint: string
  /** The chain identifier, 8 hex digits (`35834a8a` is mainnet, `4c78adac` testnet). */
  readonly chainIdentifier: string
  /** The latest checkpoint's sequence number. */
  readonly latestCheckpoint: number
  /** How long the two reads took, in milliseconds. */
  readonly latencyMillis: number
}

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
 * Checks one endpoint by URL (with its headers, e.g. an API key), through the
 * same endpoint layers: what `chainjobs sui check` runs. A check answers
 * quickly rather than patiently: two retries of a transient failure (100 ms,
 * then 200 ms apart) and a 10-second limit per request, so an endpoint that
 * keeps failing is reported within seconds. The connections close when the
 * check ends.
 */
export const checkUrl = (
  url: string,
  options: { readonly headers?: Readonly<Record<string, string>> | undefined } = {}
): Effect.Effect<SuiCheckResult, ChainRequestError.ChainRequestError> =>
  SuiClient.make(SuiClient.network({
    name: url,
    endpoints: [{ url, headers: options.headers ?? {} }],
    retry: { times: 2, base: "100 millis", max: "1 second" }
  })).pipe(
    Effect.flatMap((client) => check(client, url)),
    Effect.scoped,
    Effect.provide(memoryStores)
  )
