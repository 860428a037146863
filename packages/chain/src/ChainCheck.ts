/**
 * A configured chain's state, for operators: `status` reports each
 * endpoint's pool, circuit and request budget as they stand (no request
 * sent); `check` also asks the endpoints (through the chain's client, with
 * its failover) for the chain id and the head, and times the round trip.
 * What an operator runs before trusting an endpoint, and what a health probe
 * and the service's `/api/chains` show. The client itself never uses an
 * endpoint that answers for another chain (`ChainId`): when every endpoint
 * does, the check fails with the `WrongChain` reason (both ids in its
 * message); an endpoint passed over shows among the failures in `endpoints`.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Schema } from "effect"
import type { EvmClient } from "./EvmClient.ts"

/** One endpoint's pool, circuit and request budget at the time of a check. */
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
  circuit: Schema.String,
  /** Requests sent since the endpoint opened (a batch counts once). */
  requests: Schema.Int,
  /** Requests that failed since the endpoint opened. */
  failures: Schema.Int,
  /** The request budget (token bucket), or null when the endpoint has none. */
  rateLimit: Schema.NullOr(Schema.Struct({ limit: Schema.Int, windowMillis: Schema.Number })),
  /** How long the endpoint stays paused after a 429, in milliseconds (0: not paused). */
  pausedForMillis: Schema.Number
})
/** @see EndpointState */
export type EndpointState = typeof EndpointState.Type

/** A chain's endpoints as they stand, without asking them anything. */
export const ChainStatus = Schema.Struct({
  chain: Schema.String,
  /** The chain id configured. */
  chainId: Schema.Int,
  /** The endpoints in order of preference. */
  endpoints: Schema.Array(EndpointState)
})
/** @see ChainStatus */
export type ChainStatus = typeof ChainStatus.Type

/** What a check found. */
export const ChainCheckResult = Schema.Struct({
  chain: Schema.String,
  /** The chain id the node reported. */
  chainId: Schema.Int,
  /** The chain id configured (the client uses no endpoint of another chain: the check fails with `WrongChain` then). */
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

/** The endpoints of the chain behind `client`: pools, circuits, budgets, counts (no request is sent). */
export const status = Effect.fn("ChainCheck.status")(function*(client: EvmClient) {
  const endpoints = yield* client.health
  return {
    chain: client.chain,
    chainId: client.chainId,
    endpoints: endpoints.map((endpoint): EndpointState => ({
      url: endpoint.url,
      inUse: endpoint.inUse,
      idle: endpoint.idle,
      waiting: endpoint.waiting,
      max: endpoint.max,
      utilization: endpoint.utilization,
      circuit: endpoint.circuit,
      requests: endpoint.requests,
      failures: endpoint.failures,
      rateLimit: endpoint.rateLimit,
      pausedForMillis: endpoint.pausedForMillis
    }))
  } satisfies ChainStatus
})

/** Checks the chain behind `client`; fails with the `ChainRequestError` of a chain that does not answer. */
export const check = Effect.fn("ChainCheck.check")(function*(client: EvmClient) {
  const start = yield* Clock.currentTimeMillis
  const [chainId, head] = yield* Effect.all([client.request("eth_chainId", []), client.request("eth_blockNumber", [])])
  const latencyMillis = (yield* Clock.currentTimeMillis) - start
  const reported = Number(BigInt(chainId as string))
  const { endpoints } = yield* status(client)
  return {
    chain: client.chain,
    chainId: reported,
    expectedChainId: client.chainId,
    chainIdMatches: reported === client.chainId,
    head: Number(BigInt(head as string)),
    latencyMillis,
    endpoints
  } satisfies ChainCheckResult
})
