/**
 * The client of one EVM chain: JSON-RPC calls over the chain's endpoints
 * (each an `EndpointPool`), with a circuit breaker per endpoint and failover
 * in order of preference, retries of transient failures with jittered
 * exponential backoff, a cached chain head, batched block and receipt reads,
 * and `eth_getLogs` ranges that adapt to what the node accepts. Blocks,
 * transactions, receipts and logs are viem's types, formatted by viem.
 * Every call is an Effect: interrupting it aborts its HTTP request.
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Exit, Result, Schedule, type Scope } from "effect"
import { CircuitBreaker, type RateLimiter } from "effect/persistence"
import {
  type Address,
  type Block,
  formatBlock,
  formatLog,
  formatTransactionReceipt,
  type Hash,
  type Hex,
  hexToNumber,
  type Log,
  numberToHex,
  type RpcBlock,
  type RpcLog,
  type RpcTransactionReceipt,
  type TransactionReceipt
} from "viem"
import type { ChainConfig } from "./ChainConfig.ts"
import * as EndpointPool from "./EndpointPool.ts"
import * as ProviderErrors from "./ProviderErrors.ts"
import { ChainRequestError, InvalidResponse, isTransient, Unavailable } from "./ChainRequestError.ts"

/** An `eth_getLogs` filter over an inclusive block range. */
export interface LogFilter {
  readonly address?: Address | ReadonlyArray<Address> | undefined
  /** Topic filters by position: a topic, any of several (an array), or null for any. */
  readonly topics?: ReadonlyArray<Hex | ReadonlyArray<Hex> | null> | undefined
  readonly fromBlock: number
  readonly toBlock: number
}

/** A circuit's state and an endpoint's pool. */
export interface EndpointHealth extends EndpointPool.EndpointStats {
  readonly circuit: CircuitBreaker.State["_tag"]
}

/** The client of one chain. */
export interface EvmClient {
  /** The chain's configured name. */
  readonly chain: string
  /** The chain's id. */
  readonly chainId: number
  /** One JSON-RPC call, with failover and retries. */
  request(method: string, params?: ReadonlyArray<unknown>): Effect.Effect<unknown, ChainRequestError>
  /** Many calls as JSON-RPC batches of `batchSize`, `batchConcurrency` at once; results in call order. */
  batch(calls: ReadonlyArray<EndpointPool.Call>): Effect.Effect<ReadonlyArray<unknown>, ChainRequestError>
  /** The latest block number, cached for `headTtl`. */
  readonly head: Effect.Effect<number, ChainRequestError>
  /** Blocks by number (with full transactions when asked), read in batches. */
  getBlocks(
    numbers: ReadonlyArray<number>,
    options?: { readonly transactions?: boolean | undefined }
  ): Effect.Effect<ReadonlyArray<Block>, ChainRequestError>
  /** Receipts by transaction hash, read in batches. */
  getReceipts(hashes: ReadonlyArray<Hash>): Effect.Effect<ReadonlyArray<TransactionReceipt>, ChainRequestError>
  /** Logs over a range, split into ranges the node accepts. */
  getLogs(filter: LogFilter): Effect.Effect<ReadonlyArray<Log>, ChainRequestError>
  /** The `eth_getLogs` range, in blocks, the next request starts with. */
  readonly logRange: Effect.Effect<number>
  /** Submits a signed transaction; returns its hash. */
  sendRawTransaction(serialized: Hex): Effect.Effect<Hash, ChainRequestError>
  /** Every endpoint's circuit and pool. */
  readonly health: Effect.Effect<ReadonlyArray<EndpointHealth>>
}

/** Whether an error is a node rejecting an `eth_getLogs` range (or its result) as too large, by the table of `ProviderErrors`. */
export const isRangeTooLarge = (error: ChainRequestError): boolean =>
  error.reason._tag === "JsonRpc" && ProviderErrors.classify(error.reason.code, error.reason.detail) === "RangeTooLarge"

/**
 * The consecutive blocks `fromBlock`–`toBlock` (inclusive; with full
 * transactions when asked), checked to form one chain: each block's parent is
 * the block read before it. Blocks read while the chain reorganized fail with
 * a transient `InvalidResponse`, so that a retry reads them again.
 */
export const getLinkedBlocks = (
  client: EvmClient,
  fromBlock: number,
  toBlock: number,
  options?: { readonly transactions?: boolean | undefined }
): Effect.Effect<ReadonlyArray<Block>, ChainRequestError> =>
  Effect.flatMap(
    client.getBlocks(Array.from({ length: toBlock - fromBlock + 1 }, (_, index) => fromBlock + index), options),
    (blocks) => {
      for (let index = 1; index < blocks.length; index++) {
        if (blocks[index]!.parentHash !== blocks[index - 1]!.hash) {
          return Effect.fail(
            new ChainRequestError({
              reason: new InvalidResponse({
                endpoint: client.chain,
                detail: `block ${fromBlock + index} is not the child of block ${fromBlock + index - 1} as read: ` +
                  "the chain reorganized while the range was read"
              })
            })
          )
        }
      }
      return Effect.succeed(blocks)
    }
  )

const chunk = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const chunks: Array<ReadonlyArray<A>> = []
  for (let index = 0; index < items.length; index += size) chunks.push(items.slice(index, index + size))
  return chunks
}

/** Opens a chain's client; its connections close when the scope closes. */
export const make = Effect.fn("EvmClient.make")(function*(
  config: ChainConfig
): Effect.fn.Return<EvmClient, never, Scope.Scope | RateLimiter.RateLimiter | CircuitBreaker.CircuitBreakerStore> {
  const endpoints = yield* Effect.forEach(config.endpoints, (endpoint) => EndpointPool.make(endpoint, config.requestTimeout))
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
    if (error.value.reason._tag === "RateLimited" || error.value.reason._tag === "PoolExhausted") {
      return CircuitBreaker.ignored
    }
    return isTransient(error.value) ? CircuitBreaker.failure() : CircuitBreaker.success
  }

  /** The endpoints in order of preference, those paused after a 429 last. */
  const preferred = Effect.map(
    Effect.forEach(endpoints, (endpoint) => endpoint.pausedFor),
    (paused) => endpoints.filter((_, index) => paused[index] === 0).concat(endpoints.filter((_, index) => paused[index]! > 0))
  )

  /**
   * One attempt: the endpoints in order, moving on after a transient failure, an open circuit or no free
   * connection (`PoolExhausted` when no endpoint had one: it is not retried).
   */
  const attempt = (calls: ReadonlyArray<EndpointPool.Call>) =>
    Effect.gen(function*() {
      let lastError: ChainRequestError | undefined
      let exhausted: ChainRequestError | undefined
      let retryAfterMillis = Number.POSITIVE_INFINITY
      for (const endpoint of yield* preferred) {
        const result = yield* Effect.result(endpoint.send(calls).pipe(breaker.execute({ key: endpoint.url, classify })))
        if (Result.isSuccess(result)) return result.success
        const error = result.failure
        if (error._tag === "CircuitBreakerError") {
          if (error.reason._tag === "CircuitOpen") {
            retryAfterMillis = Math.min(retryAfterMillis, Duration.toMillis(error.reason.retryAfter))
          }
          continue
        }
        if (error.reason._tag === "PoolExhausted") {
          exhausted = error
          continue
        }
        if (!isTransient(error)) return yield* error
        lastError = error
      }
      return yield* lastError ?? exhausted ?? new ChainRequestError({
        reason: new Unavailable({
          chain: config.name,
          retryAfterMillis: Number.isFinite(retryAfterMillis) ? retryAfterMillis : 0
        })
      })
    })

  // jittered exponential backoff, capped; when every circuit is open, wait at least until one may close
  const backoff = Schedule.min([
    Schedule.exponential(config.retry.base).pipe(Schedule.jittered),
    Schedule.spaced(config.retry.max)
  ]).pipe(
    Schedule.setInputType<ChainRequestError>(),
    Schedule.modifyDelay(({ duration, input }) =>
      Effect.succeed(
        input.reason._tag === "Unavailable" ? Duration.max(duration, Duration.millis(input.reason.retryAfterMillis)) : duration
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

  const missing = (what: string) =>
    new ChainRequestError({ reason: new InvalidResponse({ endpoint: config.name, detail: `${what} not found` }) })

  const head = yield* request("eth_blockNumber").pipe(
    Effect.map((result) => hexToNumber(result as Hex)),
    Effect.cachedWithTTL((exit: Exit.Exit<number, ChainRequestError>) => Exit.isSuccess(exit) ? config.headTtl : Duration.zero)
  )

  const getBlocks = (numbers: ReadonlyArray<number>, options?: { readonly transactions?: boolean | undefined }) =>
    batch(numbers.map((number) => ({
      method: "eth_getBlockByNumber",
      params: [numberToHex(number), options?.transactions ?? false]
    }))).pipe(Effect.flatMap(Effect.forEach((block, index) =>
      block === null ? Effect.fail(missing(`block ${numbers[index]}`)) : Effect.succeed(formatBlock(block as RpcBlock) as Block)
    )))

  const getReceipts = (hashes: ReadonlyArray<Hash>) =>
    batch(hashes.map((hash) => ({ method: "eth_getTransactionReceipt", params: [hash] }))).pipe(
      Effect.flatMap(Effect.forEach((receipt, index) =>
        receipt === null
          ? Effect.fail(missing(`receipt of ${hashes[index]}`))
          : Effect.succeed(formatTransactionReceipt(receipt as RpcTransactionReceipt))
      ))
    )

  // a range of 0 blocks would never advance
  const minRange = Math.max(1, config.logRange.min)
  let range = Math.max(minRange, config.logRange.initial)
  const getLogs = (filter: LogFilter) =>
    Effect.gen(function*() {
      const logs: Array<Log> = []
      let from = filter.fromBlock
      while (from <= filter.toBlock) {
        const size = range
        const to = Math.min(filter.toBlock, from + size - 1)
        const result = yield* Effect.result(request("eth_getLogs", [{
          ...(filter.address === undefined ? {} : { address: filter.address }),
          ...(filter.topics === undefined ? {} : { topics: filter.topics }),
          fromBlock: numberToHex(from),
          toBlock: numberToHex(to)
        }]))
        if (result._tag === "Failure") {
          if (!isRangeTooLarge(result.failure) || size <= minRange) return yield* result.failure
          range = Math.max(minRange, Math.floor(size / 2))
          continue
        }
        for (const log of result.success as ReadonlyArray<RpcLog>) logs.push(formatLog(log))
        // only a query of the whole range shows that the node accepts it; a shorter one (the filter's end) proves nothing
        if (to - from + 1 === size) range = Math.min(config.logRange.max, size * 2)
        from = to + 1
      }
      return logs as ReadonlyArray<Log>
    })

  const health = Effect.forEach(endpoints, (endpoint) =>
    Effect.zipWith(
      endpoint.stats,
      breaker.state(endpoint.url).pipe(Effect.map((state) => state._tag), Effect.orElseSucceed(() => "Closed" as const)),
      (stats, circuit) => ({ ...stats, circuit })
    ))

  return {
    chain: config.name,
    chainId: config.chainId,
    request,
    batch,
    head,
    getBlocks,
    getReceipts,
    getLogs,
    logRange: Effect.sync(() => range),
    sendRawTransaction: (serialized) => Effect.map(request("eth_sendRawTransaction", [serialized]), (hash) => hash as Hash),
    health
  } satisfies EvmClient
})
