/**
 * The chain-neutral JSON-RPC client over a network's endpoints, which the
 * EVM client and other chain families (Sui) build on: each endpoint an
 * `EndpointPool` (keep-alive connections, rate limit, 429 pause, per-request
 * timeout, API-key headers), a circuit breaker per endpoint, failover in
 * order of preference within one attempt, and retries of transient failures
 * with jittered exponential backoff (waiting at least until a circuit may
 * close when every one is open). Every call is an Effect: interrupting it
 * aborts its HTTP request. Given an `Identity` (the EVM client's
 * `eth_chainId`), every endpoint is asked it before its first call and again
 * once its circuit has opened; an endpoint of another network is passed over.
 * When every circuit is open, the error carries the failure that last opened
 * one: what the provider said, not only that the circuit is open. A request
 * that finds circuits half-open, their probes under way, waits for a probe's
 * verdict instead of failing at once (and spending a retry).
 *
 * @since 0.1.0
 */
import { Cause, Clock, Duration, Effect, Exit, Result, Schedule, type Scope } from "effect"
import { CircuitBreaker, type RateLimiter } from "effect/persistence"
import type { ChainConfig } from "./ChainConfig.ts"
import * as EndpointLabel from "./EndpointLabel.ts"
import * as EndpointPool from "./EndpointPool.ts"
import { ChainRequestError, isTransient, Unavailable } from "./ChainRequestError.ts"

/** What the client needs of a network's configuration: its name, endpoints, limits, retries and breaker. */
export type JsonRpcConfig = Pick<ChainConfig, "name" | "endpoints" | "requestTimeout" | "retry" | "breaker" | "batchSize" | "batchConcurrency">

/** A circuit's state and an endpoint's pool. */
export interface EndpointHealth extends EndpointPool.EndpointStats {
  readonly circuit: CircuitBreaker.State["_tag"]
  /** How long the endpoint stays paused after a 429, in milliseconds (0: not paused). */
  readonly pausedForMillis: number
}

/** The JSON-RPC client of one network. */
export interface JsonRpcClient {
  /** One JSON-RPC call, with failover and retries. */
  request(method: string, params?: ReadonlyArray<unknown>): Effect.Effect<unknown, ChainRequestError>
  /** Many calls as JSON-RPC batches of `batchSize`, `batchConcurrency` at once; results in call order. */
  batch(calls: ReadonlyArray<EndpointPool.Call>): Effect.Effect<ReadonlyArray<unknown>, ChainRequestError>
  /** Every endpoint's circuit and pool. */
  readonly health: Effect.Effect<ReadonlyArray<EndpointHealth>>
}

/** What opening a client needs: a scope for its connections, the rate limiter and the circuit breakers' store. */
export type Requirements = Scope.Scope | RateLimiter.RateLimiter | CircuitBreaker.CircuitBreakerStore

/**
 * Waited beyond the instant a circuit may close: a timer can fire a
 * millisecond before the breaker's clock reaches that instant, and a retry
 * that still finds the circuit open spends an attempt for nothing.
 */
const closeMarginMillis = 10

/** How often a request waiting for a half-open circuit's probe reads the circuit's state. */
const probePollMillis = 10

const chunk = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const chunks: Array<ReadonlyArray<A>> = []
  for (let index = 0; index < items.length; index += size) chunks.push(items.slice(index, index + size))
  return chunks
}

/**
 * What one pass over the endpoints came to, short of a failure: the calls' results, or only probes under way (and
 * open circuits or another chain's endpoints) kept it from an endpoint — those endpoints, and the failure the pass
 * ends with when none of their probes has its verdict in time.
 */
type Pass =
  | { readonly _tag: "Answered"; readonly results: ReadonlyArray<unknown> }
  | { readonly _tag: "Probing"; readonly probing: ReadonlyArray<EndpointPool.Endpoint>; readonly unavailable: ChainRequestError }

/** Opens a network's client; its connections close when the scope closes. */
export const make = Effect.fn("JsonRpcClient.make")(function*(
  config: JsonRpcConfig,
  identity?: EndpointPool.Identity
): Effect.fn.Return<JsonRpcClient, never, Requirements> {
  const labels = EndpointLabel.labels(config.endpoints.map((endpoint) => endpoint.url))
  const endpoints = yield* Effect.forEach(config.endpoints, (endpoint, index) =>
    EndpointPool.make(endpoint, config.requestTimeout, identity, labels[index]))
  const breaker = yield* CircuitBreaker.make({
    tripPolicy: CircuitBreaker.consecutive(config.breaker.failures),
    openDuration: config.breaker.openDuration
  })
  // a 429 pauses its endpoint instead of counting against its circuit; a request that found no free connection
  // never reached the endpoint (counted a success, it broke the streak of the timeouts holding the connections);
  // the node's own errors prove it healthy
  const classify = (exit: Exit.Exit<ReadonlyArray<unknown>, ChainRequestError>): CircuitBreaker.Outcome => {
    if (Exit.isSuccess(exit)) return CircuitBreaker.success
    const error = Cause.findErrorOption(exit.cause)
    if (error._tag === "None") return CircuitBreaker.ignored
    // an endpoint of another chain is kept out by its own hold, not by its circuit
    const reason = error.value.reason._tag
    if (reason === "RateLimited" || reason === "PoolExhausted" || reason === "WrongChain") {
      return CircuitBreaker.ignored
    }
    return isTransient(error.value) ? CircuitBreaker.failure() : CircuitBreaker.success
  }

  /** The endpoints in order of preference, those paused after a 429 last. */
  const preferred = Effect.map(
    Effect.forEach(endpoints, (endpoint) => endpoint.pausedFor),
    (paused) => endpoints.filter((_, index) => paused[index] === 0).concat(endpoints.filter((_, index) => paused[index]! > 0))
  )

  /** The message of the failure that last opened a circuit: what an `Unavailable` reports besides the open circuits. */
  let lastOpening: string | undefined

  /**
   * After a failure counted against an endpoint's circuit: when it opened the circuit, the endpoint is asked its
   * identity again before it is next used, and the failure is kept as the reason the circuit opened.
   */
  const afterFailure = (endpoint: EndpointPool.Endpoint, error: ChainRequestError) =>
    Effect.gen(function*() {
      const state = yield* breaker.state(endpoint.url).pipe(Effect.orElseSucceed(() => undefined))
      if (state === undefined || state._tag === "Closed") return
      lastOpening = error.message
      yield* endpoint.unverify
    })

  /**
   * The longest a request waits for half-open circuits' probes: a probe asks at most the endpoint's identity and
   * the calls, each within the request timeout.
   */
  const probeWaitMillis = 2 * Duration.toMillis(Duration.fromInputUnsafe(config.requestTimeout))

  /** Whether a circuit is half-open with its probe under way (its store failing: not known to be). */
  const probing = (endpoint: EndpointPool.Endpoint) =>
    breaker.state(endpoint.url).pipe(
      Effect.map((state) => state._tag === "HalfOpen" && state.probing),
      Effect.orElseSucceed(() => false)
    )

  /**
   * Waits, at most `millis`, until one of the endpoints' probes has its verdict (its circuit closed, open again, or
   * its slot freed); whether one did.
   */
  const probeVerdict = (endpoints: ReadonlyArray<EndpointPool.Endpoint>, millis: number) =>
    Effect.gen(function*() {
      while ((yield* Effect.forEach(endpoints, probing)).every(Boolean)) yield* Effect.sleep(probePollMillis)
      return true
    }).pipe(Effect.timeoutOrElse({ duration: millis, orElse: () => Effect.succeed(false) }))

  /**
   * One attempt: the endpoints in order, moving on after a transient failure, an open circuit, a half-open one
   * whose probe is under way, no free connection (`PoolExhausted` when no endpoint had one: it is not retried) or
   * another chain's endpoint (`WrongChain` when every endpoint is one, or one and the others failed without a
   * transient failure or open circuit: it is not retried). When nothing but probes under way kept it from an
   * endpoint, it waits for a probe's verdict (at most `probeWaitMillis` in all) and goes through the endpoints
   * again, instead of failing as `Unavailable` and spending a retry on a circuit about to close.
   */
  const attempt = (calls: ReadonlyArray<EndpointPool.Call>) =>
    Effect.gen(function*() {
      const deadline = (yield* Clock.currentTimeMillis) + probeWaitMillis
      while (true) {
        const pass = yield* attemptOnce(calls)
        if (pass._tag === "Answered") return pass.results
        const left = deadline - (yield* Clock.currentTimeMillis)
        if (left <= 0 || !(yield* probeVerdict(pass.probing, left))) return yield* pass.unavailable
      }
    })

  /** One pass over the endpoints (`attempt`'s): their results, the probes under way that kept it, or its failure. */
  const attemptOnce = (calls: ReadonlyArray<EndpointPool.Call>): Effect.Effect<Pass, ChainRequestError> =>
    Effect.gen(function*() {
      let lastError: ChainRequestError | undefined
      let exhausted: ChainRequestError | undefined
      let wrong: ChainRequestError | undefined
      let retryAfterMillis = Number.POSITIVE_INFINITY
      const probed: Array<EndpointPool.Endpoint> = []
      for (const endpoint of yield* preferred) {
        const result = yield* Effect.result(endpoint.send(calls).pipe(breaker.execute({ key: endpoint.url, classify })))
        if (Result.isSuccess(result)) return { _tag: "Answered", results: result.success } as const
        const error = result.failure
        if (error._tag === "CircuitBreakerError") {
          if (error.reason._tag === "CircuitOpen") {
            retryAfterMillis = Math.min(retryAfterMillis, Duration.toMillis(error.reason.retryAfter))
            yield* endpoint.unverify
          }
          if (error.reason._tag === "CircuitHalfOpen") probed.push(endpoint)
          continue
        }
        if (error.reason._tag === "PoolExhausted") {
          exhausted = error
          continue
        }
        if (error.reason._tag === "WrongChain") {
          wrong = error
          continue
        }
        if (!isTransient(error)) return yield* error
        if (error.reason._tag !== "RateLimited") yield* afterFailure(endpoint, error)
        lastError = error
      }
      if (lastError !== undefined) return yield* lastError
      if (exhausted !== undefined) return yield* exhausted
      const unavailable = new ChainRequestError({
        reason: new Unavailable({
          chain: config.name,
          retryAfterMillis: Number.isFinite(retryAfterMillis) ? retryAfterMillis : 0,
          ...(lastOpening === undefined ? {} : { lastFailure: lastOpening })
        })
      })
      if (probed.length > 0) return { _tag: "Probing", probing: probed, unavailable } as const
      if (wrong !== undefined && !Number.isFinite(retryAfterMillis)) return yield* wrong
      return yield* unavailable
    })

  // jittered exponential backoff, capped; when every circuit is open, wait at least until one may close
  const backoff = Schedule.min([
    Schedule.exponential(config.retry.base).pipe(Schedule.jittered),
    Schedule.spaced(config.retry.max)
  ]).pipe(
    Schedule.setInputType<ChainRequestError>(),
    Schedule.modifyDelay(({ duration, input }) =>
      Effect.succeed(
        input.reason._tag === "Unavailable"
          ? Duration.max(duration, Duration.millis(input.reason.retryAfterMillis + closeMarginMillis))
          : duration
      )
    )
  )
  const call = (calls: ReadonlyArray<EndpointPool.Call>) =>
    attempt(calls).pipe(Effect.retry({ schedule: backoff, times: config.retry.times, while: isTransient }))

  const request = (method: string, params: ReadonlyArray<unknown> = []) =>
    Effect.map(call([{ method, params }]), (results) => results[0])

  const batch = (calls: ReadonlyArray<EndpointPool.Call>) =>
    Effect.map(
      Effect.forEach(chunk(calls, config.batchSize), call, { concurrency: config.batchConcurrency }),
      (results) => results.flat()
    )

  const health = Effect.forEach(endpoints, (endpoint) =>
    Effect.all({
      stats: endpoint.stats,
      circuit: breaker.state(endpoint.url).pipe(Effect.map((state) => state._tag), Effect.orElseSucceed(() => "Closed" as const)),
      pausedForMillis: endpoint.pausedFor
    }).pipe(Effect.map(({ circuit, pausedForMillis, stats }): EndpointHealth => ({ ...stats, circuit, pausedForMillis }))))

  return { request, batch, health } satisfies JsonRpcClient
})
