/**
 * The EVM implementation of `ChainAdapter`, on a chain's `EvmClient`: account
 * activity comes from `AddressScan.scanRange` (every block of a range read once
 * in JSON-RPC batches and matched against the whole account set, ERC-20
 * transfers from two `eth_getLogs` queries whatever the number of accounts),
 * contract events from one `eth_getLogs` query per range decoded with viem,
 * balances from `eth_getBalance` and ERC-20 `balanceOf`.
 *
 * `layer` serves the adapters of the chains of the `Chains` service;
 * `layerWith({ webSockets })` also subscribes to new heads (`eth_subscribe`
 * `newHeads`) on the WebSocket endpoint given for a chain.
 *
 * @since 0.1.0
 */
import { AddressScan, type Activity, Chains, type EvmClient } from "@chainjobs/chain"
import { Cause, Effect, Layer, Queue, Stream } from "effect"
import {
  type AbiEvent,
  type Address,
  decodeEventLog,
  encodeFunctionData,
  type Hex,
  hexToBigInt,
  isAddress,
  parseAbiItem,
  toEventSelector
} from "viem"
import { type Asset, type ChainAdapter, ChainAdapters, type ContractWatch, type Detected } from "./ChainAdapter.ts"
import { chainFailed, Invalid, WatchError } from "./WatchError.ts"

const balanceOfAbi = [{
  type: "function",
  name: "balanceOf",
  stateMutability: "view",
  inputs: [{ name: "account", type: "address" }],
  outputs: [{ name: "", type: "uint256" }]
}] as const

/** Decoded event arguments as JSON-safe values: integers become decimal strings. */
const jsonSafe = (value: unknown): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (Array.isArray(value)) return value.map(jsonSafe)
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, jsonSafe(inner)]))
  }
  return value
}

/**
 * A decoded event's arguments as a JSON-safe record: by name, or by position
 * (`"0"`, `"1"`, …) when the signature leaves an input unnamed — viem then
 * decodes them as a list, which an item's `args` (a record) cannot hold.
 */
const argsRecord = (args: unknown): Record<string, unknown> =>
  jsonSafe(Array.isArray(args) ? { ...args } : args ?? {}) as Record<string, unknown>

/** An event signature as an ABI item, or the reason it is not one. */
const parseEvent = (signature: string): AbiEvent | string => {
  try {
    const item = parseAbiItem(`event ${signature.replace(/^event\s+/, "")}`) as AbiEvent
    return item.type === "event" ? item : `"${signature}" is not an event signature`
  } catch (error) {
    return `"${signature}" is not an event signature: ${(error as Error).message.split("\n")[0]}`
  }
}

const fromActivity = (activity: Activity.Activity, chain: string): Omit<Detected, "blockHash"> => ({
  chain,
  kind: activity.kind === "native" ? "native" : "token",
  block: activity.blockNumber,
  transaction: activity.transactionHash,
  position: activity.logIndex,
  from: activity.from,
  to: activity.to,
  amount: activity.value,
  asset: activity.token,
  contract: null,
  event: null,
  args: null
})

/**
 * New heads pushed over a WebSocket JSON-RPC endpoint (`eth_subscribe`
 * `newHeads`); the stream fails when the socket closes or errs, and closes
 * the socket when it ends.
 */
export const newHeads = (chain: string, url: string): Stream.Stream<number, WatchError> =>
  Stream.callback<number, WatchError>((queue) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const socket = new WebSocket(url)
        const fail = (detail: string) => Queue.failCauseUnsafe(queue, Cause.fail(chainFailed(chain)({ message: `${url}: ${detail}` })))
        socket.addEventListener("open", () =>
          socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] })))
        socket.addEventListener("message", (event) => {
          try {
            const message = JSON.parse(String(event.data))
            if (message.id === 1 && message.error !== undefined) fail(`eth_subscribe: ${message.error.message}`)
            const number = message.method === "eth_subscription" ? message.params?.result?.number : undefined
            if (typeof number === "string") Queue.offerUnsafe(queue, Number(hexToBigInt(number as Hex)))
          } catch {
            fail("an answer that is not JSON")
          }
        })
        socket.addEventListener("error", () => fail("the WebSocket failed"))
        socket.addEventListener("close", () => fail("the WebSocket closed"))
        return socket
      }),
      (socket) => Effect.sync(() => socket.close())
    ))

/** Options of `make`. */
export interface EvmAdapterOptions {
  /** A WebSocket JSON-RPC endpoint of the chain, to subscribe to new heads on. */
  readonly webSocket?: string | undefined
}

/** The adapter of one EVM chain. */
export const make = (client: EvmClient.EvmClient, options: EvmAdapterOptions = {}): ChainAdapter => {
  const failed = chainFailed(client.chain)

  const blocks = (numbers: ReadonlyArray<number>) =>
    client.getBlocks(numbers).pipe(
      Effect.map((read) => read.map((block) => ({ number: Number(block.number), hash: block.hash!, parentHash: block.parentHash }))),
      Effect.mapError(failed)
    )

  const events = (contracts: ReadonlyArray<ContractWatch>, from: number, to: number) =>
    Effect.gen(function*() {
      if (contracts.length === 0) return []
      const abi = contracts.flatMap((contract) => contract.events.map(parseEvent)).filter((item): item is AbiEvent => typeof item !== "string")
      const selectors = Array.from(new Set(abi.map((item) => toEventSelector(item))))
      const logs = yield* client.getLogs({
        address: contracts.map((contract) => contract.address.toLowerCase() as Address),
        topics: [selectors],
        fromBlock: from,
        toBlock: to
      }).pipe(Effect.mapError(failed))
      const found: Array<Detected> = []
      for (const log of logs) {
        let decoded: { eventName: string; args: unknown }
        try {
          decoded = decodeEventLog({ abi, data: log.data, topics: log.topics as [Hex, ...Array<Hex>] }) as typeof decoded
        } catch {
          continue // a log with the selector but another layout (e.g. ERC-721's Transfer)
        }
        found.push({
          chain: client.chain,
          kind: "event",
          block: Number(log.blockNumber),
          blockHash: log.blockHash!,
          transaction: log.transactionHash!,
          position: log.logIndex!,
          from: null,
          to: null,
          amount: null,
          asset: null,
          contract: log.address.toLowerCase(),
          event: decoded.eventName,
          args: argsRecord(decoded.args)
        })
      }
      return found
    })

  const scan = (filter: { readonly accounts: ReadonlyArray<string>; readonly contracts: ReadonlyArray<ContractWatch> }, from: number, to: number) =>
    Effect.gen(function*() {
      const [activity, decoded] = yield* Effect.all([
        AddressScan.scanRange(client, filter.accounts as ReadonlyArray<Address>, from, to).pipe(Effect.mapError(failed)),
        events(filter.contracts, from, to)
      ], { concurrency: "unbounded" })
      // the scan reads every block but keeps only the activity: the hashes of the blocks holding some
      const holding = Array.from(new Set(activity.map((item) => item.blockNumber))).sort((a, b) => a - b)
      const refs = holding.length === 0 ? [] : yield* blocks(holding)
      const hashes = new Map(refs.map((ref) => [ref.number, ref.hash]))
      const byId = new Map<string, Detected>()
      for (const item of activity) {
        const detected = { ...fromActivity(item, client.chain), blockHash: hashes.get(item.blockNumber)! }
        byId.set(`${detected.transaction}:${detected.position}`, detected)
      }
      // a decoded event of a watched contract is the more informative view of a transfer log that is both
      for (const item of decoded) byId.set(`${item.transaction}:${item.position}`, item)
      return Array.from(byId.values()).sort((a, b) =>
        a.block - b.block || (a.position ?? -1) - (b.position ?? -1) || a.transaction.localeCompare(b.transaction)
      )
    })

  /**
   * A balance at the head. An `eth_call` to an address without code answers
   * `0x` (no data): the asset is no token contract, refused with `Invalid`
   * rather than read as an amount.
   */
  const balance = (account: string, asset: Asset): Effect.Effect<bigint, WatchError> =>
    (asset === "native"
      ? client.request("eth_getBalance", [account, "latest"])
      : client.request("eth_call", [{
        to: asset,
        data: encodeFunctionData({ abi: balanceOfAbi, functionName: "balanceOf", args: [account as Address] })
      }, "latest"])).pipe(
        Effect.mapError(failed),
        Effect.flatMap((result) =>
          typeof result === "string" && /^0x[0-9a-fA-F]+$/.test(result)
            ? Effect.succeed(hexToBigInt(result as Hex))
            : Effect.fail(
              new WatchError({
                reason: new Invalid({
                  watcher: "balances",
                  detail: `asset ${asset} on ${client.chain} answered balanceOf with ${JSON.stringify(result)}: no token contract there`
                })
              })
            )
        )
      )

  const transactionStatus = (transaction: string) =>
    client.request("eth_getTransactionReceipt", [transaction]).pipe(
      Effect.map((receipt) => {
        if (receipt === null) return { _tag: "Pending" } as const
        const { blockNumber, status } = receipt as { readonly blockNumber: Hex; readonly status: Hex }
        return { _tag: "Included", block: Number(hexToBigInt(blockNumber)), succeeded: status === "0x1" } as const
      }),
      Effect.mapError(failed)
    )

  return {
    chain: client.chain,
    family: "evm",
    head: Effect.mapError(client.head, failed),
    newHeads: options.webSocket === undefined ? undefined : newHeads(client.chain, options.webSocket),
    blocks,
    scan,
    balance,
    transactionStatus,
    normalizeAccount: (account) =>
      isAddress(account, { strict: false })
        ? { ok: true, account: account.toLowerCase() }
        : { ok: false, detail: `"${account}" is not an EVM address (0x and 40 hex digits)` },
    checkContract: (contract) => {
      if (!isAddress(contract.address, { strict: false })) return `"${contract.address}" is not an EVM address`
      if (contract.events.length === 0) return `contract ${contract.address} lists no events`
      return contract.events.map(parseEvent).find((item): item is string => typeof item === "string")
    }
  }
}

/** The adapters of the chains of the `Chains` service, each made once, with head subscriptions on the WebSockets given by chain name. */
export const layerWith = (options: {
  readonly webSockets?: Readonly<Record<string, string>> | undefined
}): Layer.Layer<ChainAdapters, never, Chains.Chains> =>
  Layer.effect(
    ChainAdapters,
    Effect.gen(function*() {
      const chains = yield* Chains.Chains
      const adapters = new Map<string, ChainAdapter>()
      return ChainAdapters.of({
        adapter: (chain) =>
          Effect.suspend(() => {
            const known = adapters.get(chain)
            if (known !== undefined) return Effect.succeed(known)
            return chains.client(chain).pipe(
              Effect.map((client) => {
                const adapter = make(client, { webSocket: options.webSockets?.[chain] })
                adapters.set(chain, adapter)
                return adapter
              }),
              Effect.mapError(chainFailed(chain))
            )
          })
      })
    })
  )

/** The adapters of the chains of the `Chains` service, each made once; heads are polled. */
export const layer: Layer.Layer<ChainAdapters, never, Chains.Chains> = layerWith({})
