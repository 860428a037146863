/**
 * The Sui implementation of the watch package's `ChainAdapter`, on a
 * `SuiClient`: a block is a checkpoint (number: its sequence number, hash: its
 * digest, parent: its previous digest); a scan reads a range checkpoint by
 * checkpoint, or by address and event-type queries when catching up over a
 * long range (see `make`), and keeps the balance changes of
 * monitored addresses (`native` for SUI, `token` with the coin type otherwise)
 * and the events of watched Move packages by event type; balances come from
 * `suix_getBalance`, a transaction's status from `sui_getTransactionBlock`.
 *
 * A contract watch is a package id and event types in it, written
 * `module::Struct` (or the full `0xpackage::module::Struct`).
 *
 * @since 0.1.0
 */
import type { ChainRequestError } from "@chainjobs/chain"
import { ChainAdapter, WatchError } from "@chainjobs/watch"
import type { SuiEvent, SuiTransactionBlockResponse } from "@mysten/sui/jsonRpc"
import { isValidSuiAddress, normalizeStructTag, normalizeSuiAddress } from "@mysten/sui/utils"
import { Effect, Layer } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import * as SuiClient from "./SuiClient.ts"

/** The coin type of SUI, the native asset. */
export const suiCoinType = "0x2::sui::SUI"

const canonicalCoinType = (coinType: string): string => {
  try {
    return normalizeStructTag(coinType)
  } catch {
    return coinType
  }
}
const nativeCoinType = canonicalCoinType(suiCoinType)

/** The event type without its type parameters, canonical (`0x…64::module::Struct`). */
const eventStruct = (type: string): string => canonicalCoinType(type.replace(/<.*$/, ""))

/** The watched event types of a contract, canonical; a string for one that is not a Move struct name. */
const watchedTypes = (contract: ChainAdapter.ContractWatch): Array<string> =>
  contract.events.map((event) => eventStruct(event.split("::").length === 3 ? event : `${contract.address}::${event}`))

const ownerAddress = (owner: unknown): string | undefined =>
  typeof owner === "object" && owner !== null && "AddressOwner" in owner ? normalizeSuiAddress(String(owner.AddressOwner)) : undefined

/** The items a transaction holds for the filter: balance changes of monitored addresses, then watched events. */
const itemsOf = (
  chain: string,
  block: number,
  blockHash: string,
  response: SuiTransactionBlockResponse,
  accounts: ReadonlySet<string>,
  types: ReadonlySet<string>
): Array<ChainAdapter.Detected> => {
  const found: Array<ChainAdapter.Detected> = []
  const events: ReadonlyArray<SuiEvent> = response.events ?? []
  const sender = response.transaction?.data.sender
  // positions: events by their sequence, then balance changes after the last event, so both are unique in the transaction
  const changes = response.balanceChanges ?? []
  changes.forEach((change, index) => {
    const owner = ownerAddress(change.owner)
    if (owner === undefined || !accounts.has(owner)) return
    const amount = BigInt(change.amount)
    const coinType = canonicalCoinType(change.coinType)
    found.push({
      chain,
      kind: coinType === nativeCoinType ? "native" : "token",
      block,
      blockHash,
      transaction: response.digest,
      position: events.length + index,
      from: amount < 0n ? owner : (sender === undefined ? null : normalizeSuiAddress(sender)),
      to: amount < 0n ? null : owner,
      amount: (amount < 0n ? -amount : amount).toString(),
      asset: coinType === nativeCoinType ? null : coinType,
      contract: null,
      event: null,
      args: null
    })
  })
  for (const event of events) {
    if (!types.has(eventStruct(event.type))) continue
    found.push({
      chain,
      kind: "event",
      block,
      blockHash,
      transaction: response.digest,
      position: Number(event.id.eventSeq),
      from: null,
      to: null,
      amount: null,
      asset: null,
      contract: normalizeSuiAddress(event.packageId),
      event: eventStruct(event.type).split("::")[2]!,
      args: (event.parsedJson ?? {}) as Record<string, unknown>
    })
  }
  return found
}

const hexAddress = /^(0x)?[0-9a-fA-F]{1,64}$/

/** A Sui address in its canonical spelling (0x and 64 lowercase hex digits), or why it is not one. */
export const normalizeAccount = (account: string): ReturnType<ChainAdapter.ChainAdapter["normalizeAccount"]> =>
  isValidSuiAddress(normalizeSuiAddress(account))
    ? { ok: true, account: normalizeSuiAddress(account) }
    : { ok: false, detail: `"${account}" is not a Sui address (0x and up to 64 hex digits)` }

/** Why a contract watch cannot be matched, if it cannot: a bad package id, no event types, or one that is not `module::Struct`. */
export const checkContract = (contract: ChainAdapter.ContractWatch): string | undefined => {
  if (!hexAddress.test(contract.address)) return `"${contract.address}" is not a Sui package id`
  if (contract.events.length === 0) return `package ${contract.address} lists no event types`
  const bad = contract.events.find((event) => !/^((0x)?[0-9a-fA-F]{1,64}::)?[A-Za-z_]\w*::[A-Za-z_]\w*$/.test(event))
  return bad === undefined ? undefined : `"${bad}" is not a Move event type (module::Struct)`
}

/** How a Sui adapter reads ranges; see `make`. */
export interface ScanOptions {
  /** Most digests asked for in one `sui_multiGetTransactionBlocks` (the full node's limit is 50). Default: 50. */
  readonly multiGetLimit: number
  /** Transactions or events asked for per page of an address or event-type query. Default: 50. */
  readonly pageSize: number
  /**
   * A range longer than this many checkpoints is caught up by querying the
   * monitored addresses and event types instead of reading every checkpoint,
   * when `querySources` or fewer addresses and event types are watched.
   * Default: 64.
   */
  readonly catchUpAfter: number
  /** Most addresses plus event types the query path takes on; more are read checkpoint by checkpoint. Default: 100. */
  readonly querySources: number
}

/** The defaults of `ScanOptions`. */
export const scanDefaults: ScanOptions = { multiGetLimit: 50, pageSize: 50, catchUpAfter: 64, querySources: 100 }

/** One page of a paginated query. */
interface Page<A, C> {
  readonly data: ReadonlyArray<A>
  readonly nextCursor?: C | null | undefined
  readonly hasNextPage: boolean
}

/** What a scan asks of each transaction. */
const responseOptions = { showInput: true, showEvents: true, showBalanceChanges: true } as const

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, index) => items.slice(index * size, (index + 1) * size))

/**
 * The adapter of one Sui network. A scan reads a range one of two ways, with
 * the same items either way:
 *
 * - checkpoint by checkpoint (following the head, short ranges, many
 *   addresses): each checkpoint's digest list, then its transactions in
 *   batches of `multiGetLimit` (`sui_multiGetTransactionBlocks`);
 * - by query (catching up over a long range with few addresses and event
 *   types): each address's transactions sent (`FromAddress`) and received
 *   (`ToAddress`), and each event type's events (`suix_queryEvents` with
 *   `MoveEventType`), newest first, page by page until they are older than
 *   the range — the cost follows the watched activity, not the range length.
 */
export const make = (client: SuiClient.SuiClient, options: Partial<ScanOptions> = {}): ChainAdapter.ChainAdapter => {
  const config = { ...scanDefaults, ...options }
  const failed = WatchError.chainFailed(client.chain)

  const head = client.use((rpc, signal) => rpc.getLatestCheckpointSequenceNumber({ signal })).pipe(
    Effect.map(Number),
    Effect.mapError(failed)
  )

  const readCheckpoint = (number: number) => client.use((rpc, signal) => rpc.getCheckpoint({ id: String(number), signal }))

  const refOf = (read: { readonly sequenceNumber: string; readonly digest: string; readonly previousDigest?: string | null | undefined }): ChainAdapter.BlockRef => ({
    number: Number(read.sequenceNumber),
    hash: read.digest,
    parentHash: read.previousDigest ?? ""
  })

  const blocks = (numbers: ReadonlyArray<number>) =>
    Effect.forEach(numbers, (number) => Effect.map(readCheckpoint(number), refOf), { concurrency: 4 }).pipe(Effect.mapError(failed))

  /** The transactions of the given digests, in batches of `multiGetLimit`. */
  const transactions = (digests: ReadonlyArray<string>) =>
    Effect.forEach(chunks(digests, config.multiGetLimit), (batch) =>
      client.use((rpc, signal) => rpc.multiGetTransactionBlocks({ digests: [...batch], options: responseOptions, signal })), { concurrency: 2 }).pipe(
        Effect.map((batches) => batches.flat())
      )

  const inOrder = (items: ReadonlyArray<ChainAdapter.Detected>) =>
    [...items].sort((a, b) => a.block - b.block || a.transaction.localeCompare(b.transaction) || (a.position ?? -1) - (b.position ?? -1))

  const byCheckpoint = (accounts: ReadonlySet<string>, types: ReadonlySet<string>, from: number, to: number) =>
    Effect.forEach(Array.from({ length: to - from + 1 }, (_, index) => from + index), (number) =>
      Effect.gen(function*() {
        const read = yield* readCheckpoint(number)
        const found = yield* transactions(read.transactions)
        return found.flatMap((response) => itemsOf(client.chain, number, read.digest, response, accounts, types))
      }), { concurrency: 4 }).pipe(Effect.map((perCheckpoint) => perCheckpoint.flat()))

  /** Pages of a newest-first query, until a page reaches below `from` or the query ends. */
  const newestFirst = <A, C>(
    page: (cursor: C | null) => Effect.Effect<Page<A, C>, ChainRequestError.ChainRequestError>,
    olderThanRange: (page: ReadonlyArray<A>) => Effect.Effect<boolean, ChainRequestError.ChainRequestError>
  ) =>
    Effect.gen(function*() {
      const all: Array<A> = []
      let cursor: C | null = null
      while (true) {
        const read: Page<A, C> = yield* page(cursor)
        all.push(...read.data)
        if (!read.hasNextPage || read.nextCursor === null || read.nextCursor === undefined || (yield* olderThanRange(read.data))) return all
        cursor = read.nextCursor
      }
    })

  const byQuery = (accounts: ReadonlySet<string>, types: ReadonlySet<string>, from: number, to: number) =>
    Effect.gen(function*() {
      const below = (response: SuiTransactionBlockResponse) => response.checkpoint !== undefined && response.checkpoint !== null && Number(response.checkpoint) < from
      const addressQueries = [...accounts].flatMap((account) => [{ FromAddress: account }, { ToAddress: account }] as const)
      const sent = yield* Effect.forEach(addressQueries, (filter) =>
        newestFirst<SuiTransactionBlockResponse, string>(
          (cursor) =>
            client.use((rpc, signal) =>
              rpc.queryTransactionBlocks({ filter, options: responseOptions, cursor, limit: config.pageSize, order: "descending", signal })
            ),
          (page) => Effect.succeed(page.length > 0 && below(page[page.length - 1]!))
        ), { concurrency: 2 })
      const known = new Map<string, SuiTransactionBlockResponse>()
      for (const response of sent.flat()) known.set(response.digest, response)
      // events carry no checkpoint: their transactions are read to place them (and to find their balance changes)
      const eventDigests = yield* Effect.forEach([...types], (type) =>
        newestFirst<SuiEvent, { txDigest: string; eventSeq: string }>(
          (cursor) => client.use((rpc, signal) => rpc.queryEvents({ query: { MoveEventType: type }, cursor, limit: config.pageSize, order: "descending", signal })),
          (page) =>
            page.length === 0 ? Effect.succeed(false) : Effect.map(transactions([page[page.length - 1]!.id.txDigest]), ([oldest]) => oldest !== undefined && below(oldest))
        ).pipe(Effect.map((events) => events.map((event) => event.id.txDigest))), { concurrency: 2 })
      const missing = [...new Set(eventDigests.flat())].filter((digest) => !known.has(digest))
      for (const response of yield* transactions(missing)) known.set(response.digest, response)
      const inRange = [...known.values()].filter((response) => {
        const checkpoint = Number(response.checkpoint)
        return response.checkpoint !== undefined && response.checkpoint !== null && checkpoint >= from && checkpoint <= to
      })
      const numbers = [...new Set(inRange.map((response) => Number(response.checkpoint)))]
      const hashes = new Map((yield* Effect.forEach(numbers, (number) => Effect.map(readCheckpoint(number), refOf), { concurrency: 4 })).map((ref) => [ref.number, ref.hash]))
      return inRange.flatMap((response) => {
        const number = Number(response.checkpoint)
        return itemsOf(client.chain, number, hashes.get(number)!, response, accounts, types)
      })
    })

  const scan = (filter: ChainAdapter.ScanFilter, from: number, to: number) =>
    Effect.gen(function*() {
      const accounts = new Set(filter.accounts.map((account) => normalizeSuiAddress(account)))
      const types = new Set(filter.contracts.flatMap(watchedTypes))
      const query = to - from + 1 > config.catchUpAfter && accounts.size + types.size <= config.querySources
      return inOrder(yield* (query ? byQuery(accounts, types, from, to) : byCheckpoint(accounts, types, from, to)))
    }).pipe(Effect.mapError(failed))

  const balance = (account: string, asset: ChainAdapter.Asset) =>
    client.use((rpc, signal) =>
      rpc.getBalance({ owner: normalizeSuiAddress(account), coinType: asset === "native" ? suiCoinType : asset, signal })
    ).pipe(
      Effect.map((read) => BigInt(read.totalBalance)),
      Effect.mapError(failed)
    )

  const transactionStatus = (digest: string) =>
    client.use((rpc, signal) => rpc.getTransactionBlock({ digest, options: { showEffects: true }, signal })).pipe(
      Effect.map((read): ChainAdapter.TransactionStatus =>
        read.checkpoint === undefined || read.checkpoint === null
          ? { _tag: "Pending" }
          : { _tag: "Included", block: Number(read.checkpoint), succeeded: read.effects?.status.status === "success" }
      ),
      // a transaction the node does not know yet is not in a checkpoint yet
      Effect.catchIf(
        (error) => error.reason._tag === "JsonRpc" && /could not find|not found/i.test(error.reason.detail),
        () => Effect.succeed<ChainAdapter.TransactionStatus>({ _tag: "Pending" })
      ),
      Effect.mapError(failed)
    )

  return {
    chain: client.chain,
    family: "sui",
    head,
    blocks,
    scan,
    balance,
    transactionStatus,
    normalizeAccount,
    checkContract
  }
}

/** Opens the clients of the networks and makes their adapters, by network name. */
const adaptersOf = (networks: ReadonlyArray<SuiClient.SuiConfig>) =>
  Effect.gen(function*() {
    const adapters = new Map<string, ChainAdapter.ChainAdapter>()
    for (const network of networks) adapters.set(network.name, make(yield* SuiClient.make(network)))
    return adapters
  })

/**
 * The adapters of the given Sui networks, by name, each client opened with the
 * layer; rate limits and circuits are kept in the stores provided, as
 * `Chains.layer` keeps them.
 */
export const layer = (
  networks: ReadonlyArray<SuiClient.SuiConfig>
): Layer.Layer<ChainAdapter.ChainAdapters, never, RateLimiter.RateLimiterStore | CircuitBreaker.CircuitBreakerStore> =>
  Layer.effect(
    ChainAdapter.ChainAdapters,
    Effect.map(adaptersOf(networks), (adapters) =>
      ChainAdapter.ChainAdapters.of({
        adapter: (chain) => {
          const adapter = adapters.get(chain)
          return adapter === undefined
            ? Effect.fail(WatchError.chainFailed(chain)({ message: "not a configured Sui network" }))
            : Effect.succeed(adapter)
        }
      }))
  ).pipe(Layer.provide(RateLimiter.layer))

/**
 * The Sui networks beside the chain adapters already provided (e.g.
 * `EvmAdapter.layer`'s): a name of one of `networks` is served by its Sui
 * adapter, any other name by the adapters beneath — one `ChainAdapters` for
 * watchers and a balance cache over EVM chains and Sui networks at once.
 * A Sui network shadows a chain of the same name beneath, so names should
 * differ (the service refuses a clash at start).
 */
export const layerBeside = (
  networks: ReadonlyArray<SuiClient.SuiConfig>
): Layer.Layer<
  ChainAdapter.ChainAdapters,
  never,
  ChainAdapter.ChainAdapters | RateLimiter.RateLimiterStore | CircuitBreaker.CircuitBreakerStore
> =>
  Layer.effect(
    ChainAdapter.ChainAdapters,
    Effect.gen(function*() {
      const beneath = yield* ChainAdapter.ChainAdapters
      const adapters = yield* adaptersOf(networks)
      return ChainAdapter.ChainAdapters.of({
        adapter: (chain) => {
          const adapter = adapters.get(chain)
          return adapter === undefined ? beneath.adapter(chain) : Effect.succeed(adapter)
        }
      })
    })
  ).pipe(Layer.provide(RateLimiter.layer))

/** `layer` with rate limits and circuits in memory (one process). */
export const layerMemory = (networks: ReadonlyArray<SuiClient.SuiConfig>): Layer.Layer<ChainAdapter.ChainAdapters> =>
  layer(networks).pipe(Layer.provide([RateLimiter.layerStoreMemory, CircuitBreaker.layerStoreMemory()]))

/** One coin type's balance of an owner. */
export interface CoinBalance {
  /** The coin type, canonical (`0x…64::module::Struct`); SUI is `suiCoinType` canonical. */
  readonly coinType: string
  /** The total, in the coin's smallest unit. */
  readonly amount: bigint
  /** How many coin objects hold it. */
  readonly coinObjects: number
}

/** Every coin type an owner holds, with its total (`suix_getAllBalances`), ordered by coin type. */
export const allBalances = (client: SuiClient.SuiClient, owner: string): Effect.Effect<ReadonlyArray<CoinBalance>, WatchError.WatchError> => {
  const normalized = normalizeAccount(owner)
  if (!normalized.ok) return Effect.fail(new WatchError.WatchError({ reason: new WatchError.Invalid({ watcher: client.chain, detail: normalized.detail }) }))
  return client.use((rpc, signal) => rpc.getAllBalances({ owner: normalized.account, signal })).pipe(
    Effect.map((balances) =>
      balances
        .map((balance) => ({ coinType: canonicalCoinType(balance.coinType), amount: BigInt(balance.totalBalance), coinObjects: balance.coinObjectCount }))
        .sort((a, b) => a.coinType.localeCompare(b.coinType))
    ),
    Effect.mapError(WatchError.chainFailed(client.chain))
  )
}
