/**
 * One JSON-RPC endpoint behind its limits: a pool of keep-alive connections
 * (at most `maxConnections`; a request that finds none free within
 * `acquireTimeout` fails with `PoolExhausted`), a rate limiter (token bucket
 * from `effect/persistence`, in whatever `RateLimiterStore` is provided), a
 * pause after a 429 (or a JSON-RPC error that says the request budget is
 * spent, by the table of `ProviderErrors`), and a per-request timeout. It sends one call or a batch
 * and classifies every failure as an `ChainRequestError` reason; retries and failover
 * belong to `EvmClient`. Given an `Identity`, it asks the endpoint which
 * network it serves before its first call (concurrent first calls share one
 * question, which takes its turn under the rate limit like any call) and
 * again after `unverify`; an endpoint of another network fails every call
 * for `holdFor` without being asked, then is asked again.
 *
 * Metrics, each with an `endpoint` attribute: `chainjobs_rpc_connections_in_use`
 * and `chainjobs_rpc_pool_utilization` (gauges), `chainjobs_rpc_pool_wait_ms`
 * (histogram of the wait for a connection), `chainjobs_rpc_requests` and
 * `chainjobs_rpc_failures` (counters; a batch counts once).
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect, Metric, Pool, Result, type Scope, Semaphore } from "effect"
import { RateLimiter } from "effect/persistence"
import type { EndpointConfig } from "./ChainConfig.ts"
import * as EndpointLabel from "./EndpointLabel.ts"
import * as HttpConnection from "./internal/httpConnection.ts"
import * as JsonRpc from "./internal/jsonRpc.ts"
import {
  ChainRequestError,
  HttpStatus,
  InvalidResponse,
  JsonRpc as JsonRpcError,
  Network,
  PoolExhausted,
  RateLimited,
  Timeout
} from "./ChainRequestError.ts"

/** A snapshot of an endpoint's pool. */
export interface EndpointStats {
  /** The endpoint's label (`EndpointLabel`: its URL without what can hold a key). */
  readonly url: string
  /** Connections lent out now. */
  readonly inUse: number
  /** Open connections not lent out. */
  readonly idle: number
  /** Requests waiting for a connection. */
  readonly waiting: number
  /** `maxConnections`. */
  readonly max: number
  /** `inUse / max`, 0–1. */
  readonly utilization: number
  /** Requests sent since the endpoint opened (a batch counts once). */
  readonly requests: number
  /** Requests that failed (any reason) since the endpoint opened. */
  readonly failures: number
  /** The endpoint's request budget, or null when it has none. */
  readonly rateLimit: { readonly limit: number; readonly windowMillis: number } | null
}

/** What an endpoint must answer before it is used: which network it serves. */
export interface Identity {
  /** The call whose result names the network. */
  readonly call: JsonRpc.Call
  /** Fails when `result` is not the network configured (or names none). */
  check(endpoint: string, result: unknown): Effect.Effect<void, ChainRequestError>
  /** How long an endpoint found serving another network is kept out of use before it is asked again. */
  readonly holdFor: Duration.Input
}

/** An endpoint ready to send calls. */
export interface Endpoint {
  /** Its URL: the circuit breaker's key; never shown (it can hold an API key). */
  readonly url: string
  /** Its label, the name its errors, metrics and stats show. */
  readonly label: string
  /** Sends the calls (one, or a batch) and returns their results in order; first checks the identity, if due. */
  send(calls: ReadonlyArray<JsonRpc.Call>): Effect.Effect<ReadonlyArray<unknown>, ChainRequestError>
  /** Asks the identity again before the next call (the endpoint was out of use and may have changed networks). */
  readonly unverify: Effect.Effect<void>
  /** The pool's current state. */
  readonly stats: Effect.Effect<EndpointStats>
  /** How long the endpoint stays paused after a 429, in milliseconds (0: not paused). */
  readonly pausedFor: Effect.Effect<number>
}

/** One JSON-RPC call: a method and its parameters. */
export type { Call } from "./internal/jsonRpc.ts"

const millis = (input: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(input))

/**
 * Opens an endpoint, shown as `label` (by default its URL's `EndpointLabel.label`); its connections are closed when
 * the scope closes.
 */
export const make = Effect.fn("EndpointPool.make")(function*(
  config: EndpointConfig,
  requestTimeout: Duration.Input,
  identity?: Identity,
  label: string = EndpointLabel.label(config.url)
): Effect.fn.Return<Endpoint, never, Scope.Scope | RateLimiter.RateLimiter> {
  const endpoint = label
  const attributes = { endpoint }
  const inUseGauge = Metric.gauge("chainjobs_rpc_connections_in_use", { attributes })
  const utilizationGauge = Metric.gauge("chainjobs_rpc_pool_utilization", { attributes })
  const waitHistogram = Metric.histogram("chainjobs_rpc_pool_wait_ms", {
    attributes,
    boundaries: Metric.exponentialBoundaries({ start: 1, factor: 4, count: 8 })
  })
  const requests = Metric.counter("chainjobs_rpc_requests", { attributes })
  const failures = Metric.counter("chainjobs_rpc_failures", { attributes })

  const limiter = yield* RateLimiter.RateLimiter
  const pool = yield* Pool.makeWithTTL({
    acquire: HttpConnection.open(config.url, config.headers),
    min: 0,
    max: config.maxConnections,
    timeToLive: config.idleTimeout
  })
  const acquireMillis = millis(config.acquireTimeout)
  const timeoutMillis = millis(requestTimeout)
  const pauseMillis = millis(config.rateLimitedPause)
  let pausedUntil = 0
  let nextId = 1
  let requestCount = 0
  let failureCount = 0
  const rateLimit = config.rateLimit === undefined
    ? null
    : { limit: config.rateLimit.limit, windowMillis: millis(config.rateLimit.window) }

  const stats = Effect.map(Pool.stats(pool), (stats): EndpointStats => ({
    url: endpoint,
    inUse: stats.used,
    idle: stats.idle,
    waiting: stats.pending,
    max: stats.max,
    utilization: stats.used / stats.max,
    requests: requestCount,
    failures: failureCount,
    rateLimit
  }))
  const report = Effect.flatMap(stats, (stats) =>
    Effect.andThen(Metric.update(inUseGauge, stats.inUse), Metric.update(utilizationGauge, stats.utilization)))

  const fail = (reason: ChainRequestError["reason"]) => Effect.fail(new ChainRequestError({ reason }))

  /** What the provider said, without what can hold the endpoint's key (a provider may echo it). */
  const hide = (text: string) => EndpointLabel.redact(text, config.url, config.headers)
  const saying = (detail: string | undefined) => detail === undefined ? {} : { detail }
  /** A node's JSON-RPC error with its message hidden of the endpoint's key (`hide`); other errors as they are. */
  const hidden = (error: ChainRequestError) =>
    error.reason._tag === "JsonRpc"
      ? new ChainRequestError({ reason: new JsonRpcError({ ...error.reason, detail: hide(error.reason.detail) }) })
      : error

  // A token is taken only when one is there: a request that must wait sleeps and tries again, so a request
  // interrupted while it waits (a timeout, a sibling's failure) has reserved nothing the next ones must wait for.
  // The requests of this process take their turns in order, so a batch that needs many tokens is not passed over
  // by single calls again and again.
  const turn = yield* Semaphore.make(1)
  const waitForBudget = (tokens: number) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (pausedUntil > now) yield* Effect.sleep(pausedUntil - now)
      if (config.rateLimit === undefined) return
      const budget = {
        key: `chainjobs/rpc/${config.url}`,
        algorithm: "token-bucket",
        onExceeded: "fail",
        limit: config.rateLimit.limit,
        window: config.rateLimit.window,
        tokens: Math.min(tokens, config.rateLimit.limit)
      } as const
      yield* turn.withPermit(Effect.gen(function*() {
        while (true) {
          const consumed = yield* Effect.result(limiter.consume(budget))
          if (Result.isSuccess(consumed)) return
          const reason = consumed.failure.reason
          if (reason._tag !== "RateLimitExceeded") {
            // like the circuit breaker's default, a failing store lets requests through rather than stopping them
            return yield* Effect.logWarning("chainjobs: rate limiter store failed", consumed.failure)
          }
          yield* Effect.sleep(Duration.max(reason.retryAfter, Duration.millis(1)))
        }
      }))
    })

  const borrow = Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const connection = yield* Pool.get(pool).pipe(
      Effect.timeoutOrElse({
        duration: acquireMillis,
        orElse: () => fail(new PoolExhausted({ endpoint, waitedMillis: acquireMillis }))
      })
    )
    yield* Metric.update(waitHistogram, (yield* Clock.currentTimeMillis) - start)
    yield* report
    return connection
  })

  const post = (connection: HttpConnection.HttpConnection, body: string) =>
    HttpConnection.post(connection, body).pipe(
      Effect.catch((detail) => fail(new Network({ endpoint, detail }))),
      Effect.timeoutOrElse({
        duration: timeoutMillis,
        orElse: () => fail(new Timeout({ endpoint, millis: timeoutMillis }))
      })
    )

  const countFailure = Effect.andThen(
    Effect.sync(() => {
      failureCount++
    }),
    Metric.update(failures, 1)
  )

  const sendCalls = (calls: ReadonlyArray<JsonRpc.Call>) =>
    Effect.gen(function*() {
      yield* waitForBudget(calls.length)
      const firstId = nextId
      nextId += calls.length
      yield* Metric.update(requests, 1)
      requestCount++
      // the gauges are updated once the connection is back in the pool (a finalizer of the borrowing scope would
      // run before the pool's own and still count it in use)
      const answer = yield* Effect.scoped(Effect.flatMap(borrow, (connection) =>
        post(connection, JsonRpc.encode(calls, firstId)))).pipe(Effect.ensuring(report))
      const rateLimited = Effect.fnUntraced(function*(retryAfterMillis: number, detail: string | undefined) {
        pausedUntil = (yield* Clock.currentTimeMillis) + retryAfterMillis
        return yield* fail(new RateLimited({ endpoint, retryAfterMillis, ...saying(detail) }))
      })
      const status = () => new HttpStatus({ endpoint, status: answer.status, ...saying(JsonRpc.said(answer.body, hide)) })
      if (answer.status === 429) return yield* rateLimited(answer.retryAfterMillis ?? pauseMillis, JsonRpc.said(answer.body, hide))
      if (answer.status === 408 || answer.status >= 500) return yield* fail(status())
      // a rate limit told as a JSON-RPC error is a 429 too (not the node's verdict on the request)
      const results = JsonRpc.decode(endpoint, answer.body, calls.length, firstId).pipe(
        Effect.mapError(hidden),
        Effect.catchIf(JsonRpc.isRateLimitAnswer, (error) =>
          rateLimited(
            answer.retryAfterMillis ?? pauseMillis,
            error.reason._tag === "JsonRpc" ? JsonRpc.shown(error.reason.detail, hide) : undefined
          )),
        Effect.mapError(JsonRpc.missingBlock)
      )
      if (answer.status < 300) return yield* results
      // a 4xx is the node's verdict when it carries a JSON-RPC error (read as any other: a spent budget, a missing
      // block...), a transport failure otherwise
      const decoded = yield* Effect.result(results)
      return yield* Result.isFailure(decoded) && decoded.failure.reason._tag !== "InvalidResponse"
        ? Effect.fail(decoded.failure)
        : fail(status())
    }).pipe(Effect.tapError(() => countFailure))

  // The identity: asked once (the first caller forks the question into the endpoint's scope, so that a caller
  // interrupted while it waits takes no one's answer away; every caller waits for the same answer), remembered
  // until `unverify`; a wrong answer is remembered for `holdFor`.
  const scope = yield* Effect.scope
  const holdMillis = identity === undefined ? 0 : millis(identity.holdFor)
  let verified = identity === undefined
  let wrong: { readonly until: number; readonly error: ChainRequestError } | undefined
  let asking: Deferred.Deferred<void, ChainRequestError> | undefined
  const ask = (identity: Identity) =>
    sendCalls([identity.call]).pipe(
      // an error answer names no network: the endpoint cannot be used, another may be
      Effect.catchIf(
        (error) => error.reason._tag === "JsonRpc",
        (error) => fail(new InvalidResponse({ endpoint, detail: `${identity.call.method} answered an error: ${error.message}` }))
      ),
      Effect.flatMap((results) => identity.check(endpoint, results[0]).pipe(Effect.tapError(() => countFailure))),
      Effect.tap(() =>
        Effect.sync(() => {
          verified = true
          wrong = undefined
        })
      ),
      Effect.tapError((error) =>
        error.reason._tag === "WrongChain"
          ? Effect.andThen(
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              Effect.sync(() => {
                wrong = { until: now + holdMillis, error }
              })),
            Effect.logWarning(`chainjobs: ${error.message}`)
          )
          : Effect.void
      )
    )
  const verify = Effect.gen(function*() {
    if (verified || identity === undefined) return
    if (wrong !== undefined && wrong.until > (yield* Clock.currentTimeMillis)) return yield* wrong.error
    if (asking === undefined) {
      const answer = Deferred.makeUnsafe<void, ChainRequestError>()
      asking = answer
      yield* ask(identity).pipe(
        Effect.onExit((exit) =>
          Effect.andThen(
            Effect.sync(() => {
              asking = undefined
            }),
            Deferred.done(answer, exit)
          )
        ),
        Effect.forkIn(scope)
      )
    }
    return yield* Deferred.await(asking)
  })

  const send = (calls: ReadonlyArray<JsonRpc.Call>) => Effect.andThen(verify, sendCalls(calls))

  const unverify = Effect.sync(() => {
    verified = identity === undefined
  })

  const pausedFor = Effect.map(Clock.currentTimeMillis, (now) => Math.max(0, pausedUntil - now))

  return { url: config.url, label: endpoint, send, unverify, stats, pausedFor }
})
