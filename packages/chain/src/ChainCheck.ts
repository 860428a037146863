/**
 * A connection check of a configured chain: asks its endpoints (through the
 * chain's client, with its failover) for the chain id and the head, times the
 * round trip, and reports each endpoint's pool and circuit. What an operator
 * runs before trusting an endpoint, and what a health probe shows.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import type { EvmClient } from "./EvmClient.ts"

/** One endpoint's pool and circuit at the time of a check. */
export const EndpointState = Schema.Struct({
  url: Schema.String,
  /** Connections lent out. */
  inUse: Schema.Int,
  /** Open connections not lent out. */
  idle: Schema.Int,
  /** Requests waiting for a connection. */
  waiting: Schema.Int,
  /** The most connections kept open. */
  max: Schema.Int,
  /** `inUse / max`, 0–1. */
  utilization: Schema.Number,
  /** The endpoint's circuit: `Closed` (in use), `Open` (skipped) or `HalfOpen` (probed). */
  circuit: Schema.String
})

/** What a check found. */
export const ChainCheckResult = Schema.Struct({
  chain: Schema.String,
  /** The chain id the node reported. */
  chainId: Schema.Int,
  /** The chain id configured; a node of another chain is refused by nothing else, so check that they match. */
  expectedChainId: Schema.Int,
  chainIdMatches: Schema.Boolean,
  /** The latest block number, read now (not from the head cache). */
  head: Schema.Int,
  /** The time both reads took, in milliseconds. */
  latencyMillis: Schema.Number,
  endpoints: Schema.Array(EndpointState)
})
/** @see ChainCheckResult */
export type ChainCheckResult = typeof ChainCheckResult.Type

/** Checks the chain behind `client`; fails with the `ChainRequestError` of a chain that does not answer. */
export const check = Effect.fn("ChainCheck.check")(function*(client: EvmClient) {
  const start = yield* Clock.currentTimeMillis
  const [chainId, head] = yield* Effect.all([client.request("eth_chainId", []), client.request("eth_blockNumber", [])])
  const latencyMillis = (yield* Clock.currentTimeMillis) - start
  const reported = Number(BigInt(chainId as string))
  const endpoints = yield* client.health
  return {
    chain: client.chain,
    chainId: reported,
    expectedChainId: client.chainId,
    chainIdMatches: reported === client.chainId,
    head: Number(BigInt(head as string)),
    latencyMillis,
    endpoints: endpoints.map(({ circuit, idle, inUse, max, url, utilization, waiting }) => ({
      url,
      inUse,
      idle,
      waiting,
      max,
      utilization,
      circuit
    }))
  } satisfies ChainCheckResult
})
