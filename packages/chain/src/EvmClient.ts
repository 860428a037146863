/**
 * The client of one EVM chain, on the chain-neutral `JsonRpcClient` (each
 * endpoint an `EndpointPool`, a circuit breaker per endpoint, failover in
 * order of preference, retries of transient failures with jittered
 * exponential backoff): a cached chain head, batched block and receipt reads,
 * and `eth_getLogs` ranges that adapt to what the node accepts. Every
 * endpoint must answer `eth_chainId` with the configured chain id before it
 * is used (`ChainId`): another chain's endpoint is passed over. Blocks,
 * transactions, receipts and logs are viem's types, formatted by viem.
 * Every call is an Effect: interrupting it aborts its HTTP request.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Exit } from "effect"
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
import * as ChainId from "./ChainId.ts"
import type * as EndpointPool from "./EndpointPool.ts"
import * as JsonRpcClient from "./JsonRpcClient.ts"
import * as ProviderErrors from "./ProviderErrors.ts"
import { ChainRequestError, InvalidResponse } from "./ChainRequestError.ts"

/** An `eth_getLogs` filter over an inclusive block range. */
export interface LogFilter {
  readonly address?: Address | ReadonlyArray<Address> | undefined
  /** Topic filters by position: a topic, any of several (an array), or null for any. */
  readonly topics?: ReadonlyArray<Hex | ReadonlyArray<Hex> | null> | undefined
  readonly fromBlock: number
  readonly toBlock: number
}

/** A circuit's state and an endpoint's pool (see `JsonRpcClient`). */
export type EndpointHealth = JsonRpcClient.EndpointHealth

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

/** How many whole `eth_getLogs` ranges in a row are accepted below the smallest rejected before it is tried again. */
export const ceilingRetryAfter = 4

/** Opens a chain's client; its connections close when the scope closes. */
export const make = Effect.fn("EvmClient.make")(function*(
  config: ChainConfig
): Effect.fn.Return<EvmClient, never, JsonRpcClient.Requirements> {
  const { batch, health, request } = yield* JsonRpcClient.make(config, ChainId.identity(config))

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
  // A provider's limit is fixed, mostly: the smallest range rejected (since one as large was last accepted) is not
  // grown to again at once — doubling after every accepted range would have every other query rejected, each
  // counting against the provider's budget — but only after `ceilingRetryAfter` whole ranges in a row were accepted
  // below it, so that a limit raised since is found again.
  let ceiling = Number.POSITIVE_INFINITY
  let acceptedBelow = 0
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
          ceiling = Math.min(ceiling, size)
          acceptedBelow = 0
          continue
        }
        for (const log of result.success as ReadonlyArray<RpcLog>) logs.push(formatLog(log))
        // only a query of the whole range shows that the node accepts it; a shorter one (the filter's end) proves nothing
        if (to - from + 1 === size) {
          if (size >= ceiling) ceiling = Number.POSITIVE_INFINITY
          const grown = Math.min(config.logRange.max, size * 2)
          if (grown < ceiling || ++acceptedBelow >= ceilingRetryAfter) {
            range = grown
            acceptedBelow = 0
          }
        }
        from = to + 1
      }
      return logs as ReadonlyArray<Log>
    })

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
