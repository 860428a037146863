/**
 * The Sui implementation of the watch package's `ChainAdapter`, on a
 * `SuiClient`: a block is a checkpoint (number: its sequence number, hash: its
 * digest, parent: its previous digest); a scan reads a range checkpoint by
 * checkpoint, or by address and event-type queries when catching up over a
 * long range (see `make`), and keeps the balance changes of
 * monitored addresses (`native` for SUI, `token` with the coin type otherwise)
 * the events of watched Move packages by event type, and the changes of
 * watched objects (`object` items: created, mutated, transferred, deleted,
 * wrapped); balances come from `suix_getBalance` (every coin type of an owner
 * from `suix_getAllBalances`), a transaction's status from
 * `sui_getTransactionBlock`.
 *
 * A contract watch is a package id and event types in it, written
 * `module::Struct` (or the full `0xpackage::module::Struct`).
 *
 * @since 0.1.0
 */
import { ChainAdapter, WatchError } from "@chainjobs/watch"
import type { SuiEvent, SuiObjectChange, SuiTransactionBlockResponse, TransactionFilter } from "@mysten/sui/jsonRpc"
import { isValidSuiAddress, normalizeStructTag, normalizeSuiAddress } from "@mysten/sui/utils"
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
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

/**
 * The address an owner names, canonical: an address owner's, or a consensus
 * address owner's (an object owned by one address and sequenced by
 * consensus, `{ ConsensusAddressOwner: { owner, start_version } }`); none for
 * a frozen, shared or object-owned object, a null owner, or one malformed.
 */
const ownerAddress = (owner: unknown): string | undefined => {
  if (typeof owner !== "object" || owner === null) return undefined
  if ("AddressOwner" in owner) return normalizeSuiAddress(String(owner.AddressOwner))
  const { ConsensusAddressOwner: consensus } = owner as { readonly ConsensusAddressOwner?: unknown }
  return typeof consensus === "object" && consensus !== null && "owner" in consensus ? normalizeSuiAddress(String(consensus.owner)) : undefined
}

/** What a scan looks for, canonical. */
interface Watched {
  readonly accounts: ReadonlySet<string>
  readonly types: ReadonlySet<string>
  readonly objects: ReadonlySet<string>
}

/** The object id of an object change; a published package's id. */
const changedObject = (change: SuiObjectChange): string => normalizeSuiAddress(change.type === "published" ? change.packageId : change.objectId)

/** An object change's details beyond its id, type and kind (JSON-safe). */
const changeArgs = (change: SuiObjectChange): Record<string, unknown> => {
  const { type: _type, sender: _sender, objectType: _objectType, objectId: _objectId, ...rest } = change as SuiObjectChange & Record<string, unknown>
  return rest
}

/**
 * The objects a programmable transaction takes as inputs (owned, shared,
 * received), each with its input's details (JSON-safe), in input order.
 */
const inputObjects = (response: SuiTransactionBlockResponse): Array<{ readonly object: string; readonly args: Record<string, unknown> }> => {
  const kind = response.transaction?.data.transaction
  if (kind?.kind !== "ProgrammableTransaction") return []
  return kind.inputs.flatMap((input) => {
    if (input.type !== "object") return []
    const { type: _type, objectId, ...args } = input
    return [{ object: normalizeSuiAddress(objectId), args }]
  })
}

/** The items a transaction holds for the filter: balance changes of monitored addresses, watched events, changes of watched objects, and watched objects it reads without changing. */
const itemsOf = (
  chain: string,
  block: number,
  blockHash: string,
  response: SuiTransactionBlockResponse,
  watched: Watched
): Array<ChainAdapter.Detected> => {
  const { accounts, types, objects } = watched
  const found: Array<ChainAdapter.Detected> = []
  const events: ReadonlyArray<SuiEvent> = response.events ?? []
  const sender = response.transaction?.data.sender
  // positions: events by their sequence, then balance changes after the last event, then object changes, so all are unique in the transaction
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
  if (objects.size === 0) return found
  const objectItem = (object: string, position: number, event: string, to: string | null, asset: string | null, args: Record<string, unknown>): ChainAdapter.Detected => ({
    chain,
    kind: "object",
    block,
    blockHash,
    transaction: response.digest,
    position,
    from: sender === undefined ? null : normalizeSuiAddress(sender),
    to,
    amount: null,
    asset,
    contract: object,
    event,
    args
  })
  const objectChanges = response.objectChanges ?? []
  objectChanges.forEach((change, index) => {
    const object = changedObject(change)
    if (!objects.has(object)) return
    const owner = "owner" in change ? ownerAddress(change.owner) : "recipient" in change ? ownerAddress(change.recipient) : undefined
    const asset = "objectType" in change ? change.objectType : null
    found.push(objectItem(object, events.length + changes.length + index, change.type, owner ?? null, asset, changeArgs(change)))
  })
  // a watched object taken as an input and left unchanged (a shared object read by immutable reference, a frozen object): a read
  const changed = new Set(objectChanges.map(changedObject))
  inputObjects(response).forEach(({ object, args }, index) => {
    if (!objects.has(object) || changed.has(object)) return
    found.push(objectItem(object, events.length + changes.length + objectChanges.length + index, "read", null, null, args))
  })
  return found
}

const hexAddress = /^(0x)?[0-9a-fA-F]{1,64}$/

/** A Sui address in its canonical spelling (0x and 64 lowercase hex digits), or why it is not one. */
export const normalizeAccount = (account: string): ReturnType<ChainAdapter.ChainAdapter["normalizeAccount"]> =>
  isValidSuiAddress(normalizeSuiAddress(account))
    ? { ok: true, account: normalizeSuiAddress(account) }
    : { ok: false, detail: `"${account}" is not a Sui address (0x and up to 64 hex digits)` }

/** A Sui object id in its canonical spelling (an object id is written like an address), or why it is not one. */
export const normalizeObject = (object: string): ReturnType<NonNullable<ChainAdapter.ChainAdapter["normalizeObject"]>> =>
  hexAddress.test(object)
    ? { ok: true, object: normalizeSuiAddress(object) }
    : { ok: false, detail: `"${object}" is not a Sui object id (0x and up to 64 hex digits)` }

/** A Move struct's name (`0xpackage::module::Struct`), with type arguments or none. */
const moveStruct = /^(0x)?[0-9a-fA-F]{1,64}::[A-Za-z_]\w*::[A-Za-z_]\w*(<.+>)?$/

/** Move's primitive types, which a type argument may be. */
const primitives: ReadonlySet<string> = new Set(["bool", "u8", "u16", "u32", "u64", "u128", "u256", "address", "signer"])

/**
 * Where the Move type at `tokens[at]` ends (the index after it), or NaN when
 * none starts there: a primitive, `vector<T>`, or a struct name with type
 * arguments (`<T, …>`) or none. The tokens are a type's text split at `<`,
 * `>` and `,` (`isMoveType`); NaN reads no token, so it carries through.
 * Recursive: `normalizeAsset` bounds the depth by bounding the text.
 */
const typeEnd = (tokens: ReadonlyArray<string>, at: number): number => {
  const name = tokens[at] ?? ""
  if (primitives.has(name)) return at + 1
  const vector = name === "vector"
  if (!vector && !moveStruct.test(name)) return Number.NaN
  if (tokens[at + 1] !== "<") return vector ? Number.NaN : at + 1
  return argumentsEnd(tokens, at + 2, !vector)
}

/**
 * Where the type arguments from `tokens[at]` end (the index after their
 * `>`), or NaN: one type (a vector's), or one or more separated by `,` when
 * `many` (a struct's).
 */
const argumentsEnd = (tokens: ReadonlyArray<string>, at: number, many: boolean): number => {
  const end = typeEnd(tokens, at)
  if (many && tokens[end] === ",") return argumentsEnd(tokens, end + 1, many)
  return tokens[end] === ">" ? end + 1 : Number.NaN
}

/** Whether a text is one Move type (`typeEnd`), read as tokens: split at `<`, `>` and `,` (each a token of its own), spaces around them dropped. */
const isMoveType = (text: string): boolean => {
  const tokens = text.split(/\s*([<>,])\s*/).filter((token) => token !== "")
  return typeEnd(tokens, 0) === tokens.length
}

/** The longest coin type read (in characters): type arguments nest at most a few hundred deep within it, and read in linear time. */
export const longestAsset = 4096

/**
 * A coin type in its canonical spelling (`0x…64::module::Struct`, type
 * parameters kept), SUI's as `native`, or why it is not one — also when a
 * type parameter is not a Move type (`0x2::coin::Coin<not a type>`, which the
 * SDK's `normalizeStructTag` would keep), or it is longer than `longestAsset`
 * (the SDK's reading takes time and memory growing with the square of the
 * nesting: 100,000 levels exhaust the heap).
 */
export const normalizeAsset = (asset: string): ReturnType<NonNullable<ChainAdapter.ChainAdapter["normalizeAsset"]>> => {
  if (asset.length > longestAsset || !moveStruct.test(asset) || !isMoveType(asset)) {
    return { ok: false, detail: `"${asset}" is not a Sui coin type (0xpackage::module::Struct)` }
  }
  // a struct tag as checked above is one `normalizeStructTag` reads without throwing
  const coinType = normalizeStructTag(asset)
  return { ok: true, asset: coinType === nativeCoinType ? "native" : coinType }
}

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
  /**
   * Checkpoints a checkpoint-by-checkpoint scan reads between two saves of
   * its progress: an interrupted scan reads at most this many again, and a
   * range no longer than this (following the head) saves nothing. Default: 16.
   */
  readonly checkpointRun: number
}

/** The defaults of `ScanOptions`. */
export const scanDefaults: ScanOptions = { multiGetLimit: 50, pageSize: 50, catchUpAfter: 64, querySources: 100, checkpointRun: 16 }

/** One page of a paginated query. */
interface Page<A, C> {
  readonly data: ReadonlyArray<A>
  readonly nextCursor?: C | null | undefined
  readonly hasNextPage: boolean
}

/** What a scan asks of each transaction: its object changes too when objects are watched. */
const optionsFor = (watched: Watched) =>
  ({ showInput: true, showEvents: true, showBalanceChanges: true, showObjectChanges: watched.objects.size > 0 }) as const

/** One source of a query catch-up: a transaction query, or an event type's events. */
type QuerySource =
  | { readonly key: string; readonly filter: TransactionFilter }
  | { readonly key: string; readonly eventType: string }

/** What one page of a query catch-up found, saved once under its own key: the checkpoint of each transaction it placed (null: not in one yet), its items in range (block hash not yet filled in), the transactions of its events to read at the end. */
interface PageFindings {
  readonly placed: Record<string, number | null>
  readonly items: Array<ChainAdapter.Detected>
  readonly events: Array<string>
}

/** A query source's next page cursor, and whether it is read to below the range. */
interface QueryCursor {
  readonly cursor: unknown
  readonly done: boolean
}

/**
 * The prefix of a scan's saved entries: a digest of how the range is read
 * (the path, its sources) and the layout's version, so entries saved by a
 * scan of other sources, or by another version, are not taken up.
 */
const entryPrefix = (how: string): string => `${createHash("sha256").update(`2 ${how}`).digest("hex").slice(0, 16)}/`

/** The entries a scan saved under `prefix` (see `entryPrefix`), each with the prefix taken off its key. */
const savedUnder = (progress: ChainAdapter.ScanProgress | undefined, prefix: string): Array<readonly [string, unknown]> =>
  Array.from(progress?.saved ?? []).flatMap(([key, value]) => key.startsWith(prefix) ? [[key.slice(prefix.length), value] as const] : [])

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
  const transactions = (digests: ReadonlyArray<string>, watched: Watched) =>
    Effect.forEach(chunks(digests, config.multiGetLimit), (batch) =>
      client.use((rpc, signal) => rpc.multiGetTransactionBlocks({ digests: [...batch], options: optionsFor(watched), signal })), { concurrency: 2 }).pipe(
        Effect.map((batches) => batches.flat())
      )

  const inOrder = (items: ReadonlyArray<ChainAdapter.Detected>) =>
    [...items].sort((a, b) => a.block - b.block || a.transaction.localeCompare(b.transaction) || (a.position ?? -1) - (b.position ?? -1))

  /** The items of one checkpoint. */
  const checkpointItems = (watched: Watched, number: number) =>
    Effect.gen(function*() {
      const read = yield* readCheckpoint(number)
      const found = yield* transactions(read.transactions, watched)
      return found.flatMap((response) => itemsOf(client.chain, number, read.digest, response, watched))
    })

  /**
   * Checkpoint by checkpoint, in runs of `checkpointRun` (four read at a
   * time): after each run but the last, the run's items (when it found any)
   * and the next checkpoint to read are saved through `progress`, and a scan
   * of the same range and filter resumes after the last run saved.
   */
  const byCheckpoint = (watched: Watched, from: number, to: number, progress: ChainAdapter.ScanProgress | undefined) =>
    Effect.gen(function*() {
      const prefix = entryPrefix(`checkpoints ${from} ${to} ${[...watched.accounts, "|", ...watched.types, "|", ...watched.objects].join(" ")}`)
      const found: Array<ChainAdapter.Detected> = []
      let next = from
      for (const [entry, value] of savedUnder(progress, prefix)) {
        if (entry === "next") next = value as number
        else if (entry.startsWith("run/")) found.push(...(value as Array<ChainAdapter.Detected>))
      }
      while (next <= to) {
        const last = Math.min(to, next + config.checkpointRun - 1)
        const run = yield* Effect.forEach(Array.from({ length: last - next + 1 }, (_, index) => next + index), (number) => checkpointItems(watched, number), {
          concurrency: 4
        }).pipe(Effect.map((perCheckpoint) => perCheckpoint.flat()))
        found.push(...run)
        if (last < to && progress !== undefined) {
          yield* progress.save([
            ...(run.length > 0 ? [[`${prefix}run/${next}`, run] as const] : []),
            [`${prefix}next`, last + 1]
          ])
        }
        next = last + 1
      }
      return found
    })

  /** The sources of a query catch-up, each with its key: addresses sent and received, objects affected, event types. */
  const sourcesOf = (watched: Watched): Array<QuerySource> => [
    ...[...watched.accounts].flatMap((account): Array<QuerySource> => [
      { key: `from:${account}`, filter: { FromAddress: account } },
      { key: `to:${account}`, filter: { ToAddress: account } }
    ]),
    // an object's changes (AffectedObject: created and unwrapped ones are no inputs) and its reads (InputObject: a read changes nothing)
    ...[...watched.objects].flatMap((object): Array<QuerySource> => [
      { key: `object:${object}`, filter: { AffectedObject: object } },
      { key: `input:${object}`, filter: { InputObject: object } }
    ]),
    ...[...watched.types].map((type): QuerySource => ({ key: `event:${type}`, eventType: type }))
  ]

  /**
   * The query catch-up: every source read newest first, page by page, until a
   * page reaches below `from` (or the query ends). Each transaction read is
   * placed at its checkpoint once and its items in range kept. Events carry
   * no checkpoint but their time: an event older than checkpoint `from`
   * (read once) is before the range, since checkpoint times never go
   * back — so an event page is known to reach below the range without a
   * read (an event without a time has its transaction read at once), and the
   * transactions of the events that may be in range are read in batches at
   * the end. After every page, only what the page moved and found is saved
   * through `progress`: its source's cursor, and (under a key of its own,
   * never written again) the transactions it placed, its items and its
   * events' transactions still to read; a scan of the same range and sources
   * resumes from them.
   */
  const byQuery = (watched: Watched, from: number, to: number, progress: ChainAdapter.ScanProgress | undefined) =>
    Effect.gen(function*() {
      const sources = sourcesOf(watched)
      const prefix = entryPrefix(`query ${from} ${to} ${sources.map((source) => source.key).join(" ")}`)
      const queries: Record<string, QueryCursor> = {}
      const pages: Record<string, number> = {}
      const placed: Record<string, number | null> = {}
      const items: Array<ChainAdapter.Detected> = []
      const eventDigests: Array<string> = []
      let fromTimestamp: number | undefined
      for (const [entry, value] of savedUnder(progress, prefix)) {
        if (entry === "time") fromTimestamp = value as number
        else if (entry.startsWith("query/")) queries[entry.slice("query/".length)] = value as QueryCursor
        else if (entry.startsWith("page/")) {
          const source = entry.slice("page/".length, entry.lastIndexOf("/"))
          pages[source] = (pages[source] ?? 0) + 1
          const page = value as PageFindings
          Object.assign(placed, page.placed)
          items.push(...page.items)
          eventDigests.push(...page.events)
        }
      }
      const save = (entries: ReadonlyArray<readonly [string, unknown]>) => progress === undefined ? Effect.void : progress.save(entries)
      /** Places a transaction at its checkpoint once, keeping its items in range, in the page's findings too. */
      const place = (page: PageFindings) => (response: SuiTransactionBlockResponse) => {
        if (response.digest in placed) return
        const checkpoint = response.checkpoint === undefined || response.checkpoint === null ? null : Number(response.checkpoint)
        placed[response.digest] = checkpoint
        page.placed[response.digest] = checkpoint
        if (checkpoint !== null && checkpoint >= from && checkpoint <= to) {
          const found = itemsOf(client.chain, checkpoint, "", response, watched)
          items.push(...found)
          page.items.push(...found)
        }
      }
      if (watched.types.size > 0 && fromTimestamp === undefined) {
        fromTimestamp = Number((yield* readCheckpoint(from)).timestampMs)
        yield* save([[`${prefix}time`, fromTimestamp]])
      }
      /** Whether an event is older than the range by its time; undefined when it carries none. */
      const eventBelow = (event: SuiEvent) =>
        event.timestampMs === undefined || event.timestampMs === null || fromTimestamp === undefined
          ? undefined
          : Number(event.timestampMs) < fromTimestamp
      const below = (digest: string) => {
        const checkpoint = placed[digest]
        return checkpoint !== undefined && checkpoint !== null && checkpoint < from
      }
      /** One source's pages from where it stopped, each page's findings and cursor saved together. */
      const follow = (source: QuerySource) =>
        Effect.gen(function*() {
          while (queries[source.key]?.done !== true) {
            const cursor = queries[source.key]?.cursor ?? null
            const findings: PageFindings = { placed: {}, items: [], events: [] }
            let page: Page<unknown, unknown>
            let older: boolean
            if ("filter" in source) {
              const read = yield* client.use((rpc, signal) =>
                rpc.queryTransactionBlocks({
                  filter: source.filter,
                  options: optionsFor(watched),
                  cursor: cursor as string | null,
                  limit: config.pageSize,
                  order: "descending",
                  signal
                })
              )
              read.data.forEach(place(findings))
              page = read
              older = read.data.length > 0 && below(read.data.at(-1)!.digest)
            } else {
              const read = yield* client.use((rpc, signal) =>
                rpc.queryEvents({
                  query: { MoveEventType: source.eventType },
                  cursor: cursor as { txDigest: string; eventSeq: string } | null,
                  limit: config.pageSize,
                  order: "descending",
                  signal
                })
              )
              const oldest = read.data.at(-1)
              // an oldest event without a time is placed by its transaction, read at once and kept
              if (oldest !== undefined && eventBelow(oldest) === undefined && !(oldest.id.txDigest in placed)) {
                (yield* transactions([oldest.id.txDigest], watched)).forEach(place(findings))
              }
              for (const event of read.data) {
                if (eventBelow(event) !== true && !(event.id.txDigest in placed)) findings.events.push(event.id.txDigest)
              }
              eventDigests.push(...findings.events)
              page = read
              older = oldest !== undefined && (eventBelow(oldest) ?? below(oldest.id.txDigest))
            }
            const ended = !page.hasNextPage || page.nextCursor === null || page.nextCursor === undefined || older
            queries[source.key] = { cursor: page.nextCursor ?? null, done: ended }
            const number = pages[source.key] = (pages[source.key] ?? 0) + 1
            yield* save([[`${prefix}page/${source.key}/${number}`, findings], [`${prefix}query/${source.key}`, queries[source.key]]])
          }
        })
      yield* Effect.forEach(sources, follow, { concurrency: 2, discard: true })
      const missing = [...new Set(eventDigests)].filter((digest) => !(digest in placed))
      const last: PageFindings = { placed: {}, items: [], events: [] }
      for (const response of yield* transactions(missing, watched)) place(last)(response)
      const numbers = [...new Set(items.map((item) => item.block))]
      const hashes = new Map((yield* Effect.forEach(numbers, (number) => Effect.map(readCheckpoint(number), refOf), { concurrency: 4 })).map((ref) => [ref.number, ref.hash]))
      return items.map((item) => ({ ...item, blockHash: hashes.get(item.block)! }))
    })

  /** Whether the endpoint refused an `InputObject` query: ranges with watched objects are then read checkpoint by checkpoint. */
  let inputQueriesRefused = false

  const scan = (filter: ChainAdapter.ScanFilter, from: number, to: number, progress?: ChainAdapter.ScanProgress) =>
    Effect.gen(function*() {
      const watched: Watched = {
        accounts: new Set(filter.accounts.map((account) => normalizeSuiAddress(account))),
        types: new Set(filter.contracts.flatMap(watchedTypes)),
        objects: new Set((filter.objects ?? []).map((object) => normalizeSuiAddress(object)))
      }
      const query = to - from + 1 > config.catchUpAfter && watched.accounts.size + watched.types.size + watched.objects.size <= config.querySources &&
        !(inputQueriesRefused && watched.objects.size > 0)
      if (!query) return inOrder(yield* byCheckpoint(watched, from, to, progress))
      return inOrder(yield* byQuery(watched, from, to, progress).pipe(
        // an endpoint without the index of input objects (an indexer-backed one) refuses InputObject: read checkpoint by checkpoint, now and after
        Effect.catchIf(
          (error) => error.reason._tag === "JsonRpc" && /InputObject/.test(error.reason.detail) && /not supported/i.test(error.reason.detail),
          () => Effect.andThen(Effect.sync(() => void (inputQueriesRefused = true)), byCheckpoint(watched, from, to, progress))
        )
      ))
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
    balances: (account) =>
      Effect.map(allBalances(client, account), (held) => {
        const native = held.filter((coin) => coin.coinType === nativeCoinType)
        const tokens = held.filter((coin) => coin.coinType !== nativeCoinType)
        return [
          ...native.map((coin) => ({ asset: "native" as const, amount: coin.amount })),
          ...tokens.map((coin) => ({ asset: coin.coinType, amount: coin.amount }))
        ]
      }),
    transactionStatus,
    normalizeAccount,
    normalizeAsset,
    checkContract,
    normalizeObject
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
