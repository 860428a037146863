/**
 * A stand-in Sui full node for tests: a real HTTP JSON-RPC server on
 * 127.0.0.1 serving the responses of the Sui OpenRPC specification's examples
 * (fixtures/spec-examples.json, see fixtures/README.md) and a checkpoint chain
 * built in the same shapes, which a test extends as it goes. Faults are
 * injected per request: a 429, a 503, a stall (no answer), a truncated body.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { ChainConfig } from "@chainjobs/chain"
import { TransactionDataBuilder } from "@mysten/sui/transactions"
import { fromBase64, normalizeStructTag, toBase58 } from "@mysten/sui/utils"
import { type Duration, Effect, Layer } from "effect"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import * as SuiClient from "../src/SuiClient.ts"

/** The specification's example results. */
export const spec = JSON.parse(readFileSync(new URL("./fixtures/spec-examples.json", import.meta.url), "utf8"))

/** The checkpoint the chain starts at: the specification's example checkpoint, as it is. */
export const firstCheckpoint = Number(spec.sui_getCheckpoint.sequenceNumber)

/** A base58 digest of 32 bytes derived from a label (checkpoint and transaction digests of the chain built on top). */
export const digestOf = (label: string): string => toBase58(createHash("sha256").update(label).digest())

/**
 * A fault the next request meets; `{ body }`: an HTTP 200 answer of that
 * text, not JSON-RPC (a gateway's page); `"none"`: answered as usual (a
 * request let through before the faults queued after it).
 */
export type Fault = "429" | "503" | "stall" | "truncate" | "none" | { readonly body: string }

/**
 * An owner written as the node writes it, not as an address: `"Immutable"`
 * (frozen), `{ Shared: … }`, `{ ObjectOwner: … }` (a dynamic field's), or a
 * hostile `null`.
 */
export interface Written {
  readonly written: unknown
}

/** One balance change of a transaction: an owner's amount of a coin type (negative: spent). */
export interface Change {
  readonly owner: string
  /** The owner as the node writes it instead (`owner` then names no one the chain credits). */
  readonly written?: Written
  readonly coinType: string
  readonly amount: bigint
}

/**
 * One object a transaction writes, as its `objectChanges` entry says
 * (`SuiObjectChange`: created, mutated, transferred — a new owner —, deleted,
 * wrapped — or a package published at that id); `owner` is the address owning
 * it after (created, mutated, transferred; default: the sender), `type` its
 * Move type (default: the specification's example `0x2::example::Object`).
 */
export interface ObjectWrite {
  readonly objectId: string
  readonly change: "created" | "mutated" | "transferred" | "deleted" | "wrapped" | "published"
  readonly owner?: string | Written
  readonly type?: string
}

/**
 * One transaction of the chain: its sender, balance changes, events (type and
 * JSON fields), the objects it writes, and the shared objects it only reads
 * (`reads`: inputs taken by immutable reference, left unchanged — in its
 * inputs, not in its object changes).
 */
export interface Transaction {
  readonly sender: string
  readonly changes: ReadonlyArray<Change>
  readonly events?: ReadonlyArray<{ readonly type: string; readonly fields: Record<string, unknown> }>
  readonly objects?: ReadonlyArray<ObjectWrite>
  readonly reads?: ReadonlyArray<string>
  /** A system transaction (`ConsensusCommitPrologueV3`, as each checkpoint's first one is on a real network): no programmable inputs. */
  readonly system?: boolean
  /** Fields the node leaves out of its answers about the transaction, as a node that pruned them, or a hostile one, does. */
  readonly omits?: ReadonlyArray<"transaction" | "events" | "balanceChanges" | "objectChanges" | "effects">
}

/**
 * What the node does with the next `sui_executeTransactionBlock`: accept it
 * (it joins the next checkpoint), accept it and fail it in execution (final,
 * with the effects' error), or refuse it with a JSON-RPC error.
 */
export type ExecuteOutcome =
  | { readonly _tag: "Accept" }
  | { readonly _tag: "FailInExecution"; readonly error: string }
  | { readonly _tag: "Refuse"; readonly code: number; readonly message: string }

/** The stand-in node. */
export interface StandIn {
  readonly url: string
  /** Appends a checkpoint holding the transactions (its balance changes applied); returns its number. */
  addCheckpoint(transactions: ReadonlyArray<Transaction>): number
  /**
   * Adds transactions the node knows and indexes (queries find them, newest)
   * that no checkpoint holds yet, their `checkpoint` field absent or null, as
   * nodes answer; they stay pending. Returns their digests.
   */
  addPending(transactions: ReadonlyArray<Transaction>, checkpoint: "absent" | "null"): ReadonlyArray<string>
  /** Sets a balance behind the chain's back (a drift). */
  setBalance(owner: string, coinType: string, amount: bigint): void
  /** Queues what the next executions meet (default: accepted). */
  onExecute(...outcomes: ReadonlyArray<ExecuteOutcome>): void
  /** Marks a transaction of the chain as failed in execution (its effects' status), as a Move abort would. */
  failInExecution(digest: string, error: string): void
  /** Answers the next request of `method` with a JSON-RPC error (the node's own answer: not retried). */
  refuse(method: string, error: { readonly code: number; readonly message: string }): void
  /** Digests of the transactions executed and not yet in a checkpoint. */
  readonly executed: ReadonlyArray<string>
  /** Queues faults, each met by one request. */
  inject(...faults: ReadonlyArray<Fault>): void
  /** The JSON-RPC methods asked so far, in order, with the `x-api-key` header and the parameters each came with. */
  readonly requests: ReadonlyArray<{ readonly method: string; readonly apiKey: string | undefined; readonly params: unknown }>
  /** How many requests are open: received and neither answered nor given up by the client (a stalled one until its connection closes). */
  openRequests(): number
  /** Every transaction added, with its checkpoint and digest, in order. */
  readonly added: ReadonlyArray<{ readonly checkpoint: number; readonly digest: string; readonly transaction: Transaction }>
  /** The most transactions or events a query page holds (a node's own limit, below the caller's). */
  readonly maxPage: number
  /** How many digests each `sui_multiGetTransactionBlocks` asked for, in order. */
  readonly multiGetSizes: ReadonlyArray<number>
  /** Every digest `sui_multiGetTransactionBlocks` was asked for, in order (a digest asked twice, twice). */
  readonly multiGetDigests: ReadonlyArray<string>
  /** An outage: after `requests` more requests, every request is answered 503 until `heal`. */
  outageAfter(requests: number): void
  /** Ends an outage. */
  heal(): void
}

const normalize = (address: string) => `0x${address.replace(/^0x/, "").toLowerCase().padStart(64, "0")}`

/** An owner as the node writes it: an address as `AddressOwner`, a written one as it is. */
const ownerOf = (owner: string | Written): unknown => typeof owner === "string" ? { AddressOwner: normalize(owner) } : owner.written

/** Starts a stand-in node; it stops (dropping stalled requests) when the scope closes. */
export const make = (
  options: {
    readonly maxPage?: number
    readonly maxMultiGet?: number
    /** An executed transaction is not found by `sui_getTransactionBlock` until a checkpoint includes it (a node indexing late). */
    readonly indexAfterCheckpoint?: boolean
    /** Events carry their checkpoint's time (`timestampMs`, as the schema's `SuiEvent` has it), or carry it as null. Default: true. */
    readonly eventTimes?: boolean | "null"
    /** Every query page claims a next page (`hasNextPage`) but gives no cursor to it (null or absent), as a broken indexer might. */
    readonly endlessPages?: "null" | "absent"
    /** `InputObject` transaction queries are refused, as an indexer-backed endpoint refuses them. Default: false. */
    readonly refuseInputObject?: boolean
  } = {}
) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: Http.Server; readonly standIn: StandIn }>((resume) => {
      const maxPage = options.maxPage ?? 2
      const maxMultiGet = options.maxMultiGet ?? 50
      const multiGetSizes: Array<number> = []
      const multiGetDigests: Array<string> = []
      // requests still answered before an outage (Infinity: none coming)
      let untilOutage = Number.POSITIVE_INFINITY
      const checkpoints = new Map<number, Record<string, unknown>>()
      const transactionsOf = new Map<number, Array<Record<string, unknown>>>()
      const byDigest = new Map<string, Record<string, unknown>>()
      const balances = new Map<string, bigint>()
      const faults: Array<Fault> = []
      const requests: Array<{ method: string; apiKey: string | undefined; params: unknown }> = []
      const added: Array<{ checkpoint: number; digest: string; transaction: Transaction }> = []
      let latest = firstCheckpoint
      const outcomes: Array<ExecuteOutcome> = []
      // JSON-RPC errors queued per method, each answering one request
      const refusals = new Map<string, Array<{ code: number; message: string }>>()
      // executed, waiting for the next checkpoint
      const executed: Array<string> = []
      let transactionCount = 0
      // each object's version, raised by every write
      const versions = new Map<string, number>()
      // the specification's example object change (a transfer) is the template of every one
      const objectTemplate = spec.sui_executeTransactionBlock.objectChanges[0]
      const objectChange = (write: ObjectWrite, sender: string) => {
        const objectId = normalize(write.objectId)
        const previous = versions.get(objectId) ?? 1
        const version = previous + 1
        versions.set(objectId, version)
        const common = { sender, objectType: write.type ?? objectTemplate.objectType, objectId, version: String(version) }
        const digest = digestOf(`object ${objectId} ${version}`)
        const owner = ownerOf(write.owner ?? sender)
        switch (write.change) {
          case "published":
            return { type: "published", packageId: objectId, version: String(version), digest, modules: ["example"] }
          case "created":
            return { type: "created", ...common, owner, digest }
          case "mutated":
            return { type: "mutated", ...common, owner, previousVersion: String(previous), digest }
          case "transferred":
            return { ...objectTemplate, ...common, recipient: owner, digest }
          default:
            return { type: write.change, ...common }
        }
      }
      // the specification's executed transaction is the template of every programmable transaction: its inputs are the objects
      // written that existed before (owned, by reference: its own input's shape) and the shared objects read (immutable reference)
      const programmable = spec.sui_executeTransactionBlock.transaction.data.transaction
      const ownedTemplate = programmable.inputs.find((input: { type: string }) => input.type === "object")
      const pureInput = programmable.inputs.find((input: { type: string }) => input.type === "pure")
      const inputsOf = (transaction: Transaction) => [
        // the example's address argument, as most transfers have one
        pureInput,
        ...(transaction.objects ?? []).filter((write) => write.change !== "created").map((write) => {
          const objectId = normalize(write.objectId)
          const version = versions.get(objectId) ?? 1
          return { ...ownedTemplate, objectId, version: String(version), digest: digestOf(`object ${objectId} ${version}`) }
        }),
        ...(transaction.reads ?? []).map((read) => ({
          type: "object",
          objectType: "sharedObject",
          objectId: normalize(read),
          initialSharedVersion: "1",
          mutable: false
        }))
      ]

      // the specification's checkpoint starts the chain; its parent is served with the digest it names
      checkpoints.set(firstCheckpoint, spec.sui_getCheckpoint)
      transactionsOf.set(firstCheckpoint, [])
      const spareDigests: Array<string> = spec.suix_queryTransactionBlocks.data.map((entry: { digest: string }) => entry.digest)

      // checkpoint times never go back: the specification's checkpoint's time, a millisecond later per checkpoint after it
      const timestampAt = (number: number) => String(Number(spec.sui_getCheckpoint.timestampMs) + number - firstCheckpoint)
      const balanceKey = (owner: string, coinType: string) => `${normalize(owner)}|${coinType}`
      const checkpointAt = (number: number): Record<string, unknown> | undefined => {
        const known = checkpoints.get(number)
        if (known !== undefined) return known
        if (number >= firstCheckpoint || number < 0) return undefined
        return {
          ...spec.sui_getCheckpoint,
          sequenceNumber: String(number),
          timestampMs: timestampAt(number),
          digest: number === firstCheckpoint - 1 ? spec.sui_getCheckpoint.previousDigest : digestOf(`checkpoint ${number}`),
          // the genesis checkpoint has none
          previousDigest: number === 0 ? null : digestOf(`checkpoint ${number - 1}`),
          transactions: []
        }
      }

      // transactions the node indexes that no checkpoint holds yet, newest last
      const pending: Array<Record<string, any>> = []
      // the fields each transaction's answers leave out
      const omitted = new Map<string, ReadonlyArray<string>>()
      /** A transaction's response, in checkpoint `at` or in none yet (its `checkpoint` field absent or null); its balance changes applied. */
      const responseOf = (transaction: Transaction, at: number | "absent" | "null") => {
        const digest: string = spareDigests.shift() ?? digestOf(`transaction ${++transactionCount}`)
        const time = timestampAt(typeof at === "number" ? at : latest + 1)
        for (const change of transaction.changes) {
          if (change.written !== undefined) continue
          const key = balanceKey(change.owner, change.coinType)
          balances.set(key, (balances.get(key) ?? 0n) + change.amount)
        }
        const inputs = inputsOf(transaction)
        const response = {
          digest,
          transaction: {
            data: {
              messageVersion: "v1",
              sender: normalize(transaction.sender),
              transaction: transaction.system === true
                ? { kind: "ConsensusCommitPrologueV3", epoch: "0", round: "1", commit_timestamp_ms: time }
                : { ...programmable, inputs, transactions: [] }
            }
          },
          events: (transaction.events ?? []).map((event, index) => ({
            ...spec.sui_getEvents[0],
            id: { txDigest: digest, eventSeq: String(index) },
            packageId: normalize(event.type.split("::")[0]!),
            sender: normalize(transaction.sender),
            type: event.type,
            parsedJson: event.fields,
            ...(options.eventTimes === false ? {} : { timestampMs: options.eventTimes === "null" ? null : time })
          })),
          balanceChanges: transaction.changes.map((change) => ({
            owner: ownerOf(change.written ?? change.owner),
            coinType: change.coinType,
            amount: change.amount.toString()
          })),
          objectChanges: (transaction.objects ?? []).map((write) => objectChange(write, normalize(transaction.sender))),
          effects: { messageVersion: "v1", status: { status: "success" }, transactionDigest: digest },
          ...(at === "absent" ? {} : { checkpoint: at === "null" ? null : String(at) }),
          timestampMs: time
        }
        if (transaction.omits !== undefined) omitted.set(digest, transaction.omits)
        byDigest.set(digest, response)
        return response
      }

      let open = 0
      const standIn: StandIn = {
        url: "",
        openRequests: () => open,
        maxPage,
        multiGetSizes,
        multiGetDigests,
        outageAfter: (count) => {
          untilOutage = count
        },
        heal: () => {
          untilOutage = Number.POSITIVE_INFINITY
        },
        requests,
        added,
        inject: (...more) => faults.push(...more),
        executed,
        onExecute: (...more) => outcomes.push(...more),
        failInExecution: (digest, error) => {
          const found = byDigest.get(digest)
          if (found !== undefined) byDigest.set(digest, { ...found, effects: { ...(found.effects as object), status: { status: "failure", error } } })
        },
        refuse: (method, error) => {
          const queued = refusals.get(method) ?? []
          queued.push(error)
          refusals.set(method, queued)
        },
        setBalance: (owner, coinType, amount) => balances.set(balanceKey(owner, coinType), amount),
        addCheckpoint: (transactions) => {
          const number = ++latest
          const digests: Array<string> = []
          const responses = transactions.map((transaction) => {
            const response = responseOf(transaction, number)
            digests.push(response.digest)
            added.push({ checkpoint: number, digest: response.digest, transaction })
            return response
          })
          // executed transactions join this checkpoint after the added ones
          for (const digest of executed.splice(0)) {
            digests.push(digest)
            byDigest.set(digest, { ...byDigest.get(digest), checkpoint: String(number), timestampMs: timestampAt(number) })
          }
          checkpoints.set(number, {
            ...spec.sui_getCheckpoint,
            sequenceNumber: String(number),
            timestampMs: timestampAt(number),
            digest: digestOf(`checkpoint ${number}`),
            previousDigest: number - 1 === firstCheckpoint ? spec.sui_getCheckpoint.digest : digestOf(`checkpoint ${number - 1}`),
            transactions: digests
          })
          transactionsOf.set(number, responses)
          return number
        },
        addPending: (transactions, checkpoint) =>
          transactions.map((transaction) => {
            const response = responseOf(transaction, checkpoint)
            pending.push(response)
            return response.digest
          })
      }

      /** A response as a node shapes it for the options asked: effects only when `showEffects` is asked, object changes only when `showObjectChanges` is. */
      const shown = (response: any, asked: { showEffects?: boolean; showObjectChanges?: boolean } | null | undefined) => {
        const { effects, objectChanges, ...rest } = response
        const answer: Record<string, any> = {
          ...rest,
          ...(asked?.showEffects === true && effects !== undefined ? { effects } : {}),
          ...(asked?.showObjectChanges === true && objectChanges !== undefined ? { objectChanges } : {})
        }
        for (const field of omitted.get(response.digest) ?? []) delete answer[field]
        return answer
      }

      /** Every transaction of the chain built, oldest first. */
      const ordered = (): Array<any> => [...[...transactionsOf.entries()].sort(([a], [b]) => a - b).flatMap(([, responses]) => responses), ...pending]
      /** A page after `cursor` (a key of `keyOf`) of at most `limit` (and the node's `maxPage`). */
      const paginate = <A>(all: ReadonlyArray<A>, cursor: string | null | undefined, limit: number | null, keyOf: (a: A) => string) => {
        const start = cursor === null || cursor === undefined ? 0 : all.findIndex((item) => keyOf(item) === cursor) + 1
        const data = all.slice(start, start + Math.min(limit ?? maxPage, maxPage))
        if (options.endlessPages !== undefined) return { data, hasNextPage: true, ...(options.endlessPages === "null" ? { nextCursor: null } : {}) }
        return { data, nextCursor: data.length === 0 ? cursor ?? null : keyOf(data.at(-1)!), hasNextPage: start + data.length < all.length }
      }

      const answer = (method: string, params: ReadonlyArray<any>): { result: unknown } | { error: { code: number; message: string } } => {
        switch (method) {
          case "sui_getChainIdentifier":
            return { result: spec.sui_getChainIdentifier }
          case "sui_getLatestCheckpointSequenceNumber":
            return { result: String(latest) }
          case "sui_getCheckpoint": {
            const found = checkpointAt(Number(params[0]))
            return found === undefined
              ? { error: { code: -32602, message: `Checkpoint ${params[0]} not found` } }
              : { result: found }
          }
          case "suix_queryTransactionBlocks": {
            // the address filters a full node indexes; the Checkpoint filter is marked "currently not supported" in the specification
            // ChangedObject: "created, mutated and unwrapped objects"; AffectedObject: "transactions that touch this object" (any object change
            // naming it, as a full node's index of the effects' changed objects has it); InputObject: the transaction's input objects
            const [query, cursor, limit, descending] = params as [
              {
                filter?: { FromAddress?: string; ToAddress?: string; ChangedObject?: string; AffectedObject?: string; InputObject?: string }
                options?: { showEffects?: boolean; showObjectChanges?: boolean } | null
              },
              string | null,
              number | null,
              boolean | null
            ]
            const filter = query.filter ?? {}
            const touches = (response: any, changes: ReadonlyArray<string> | null, object: string) =>
              response.objectChanges.some((change: any) => (change.objectId ?? change.packageId) === normalize(object) && (changes === null || changes.includes(change.type)))
            const matches = filter.FromAddress !== undefined
              ? (response: any) => response.transaction.data.sender === normalize(filter.FromAddress!)
              : filter.ToAddress !== undefined
              ? (response: any) => response.balanceChanges.some((change: any) => change.owner?.AddressOwner === normalize(filter.ToAddress!) && BigInt(change.amount) > 0n)
              : filter.ChangedObject !== undefined
              ? (response: any) => touches(response, ["created", "mutated", "transferred"], filter.ChangedObject!)
              : filter.AffectedObject !== undefined
              ? (response: any) => touches(response, null, filter.AffectedObject!)
              : filter.InputObject !== undefined
              ? (response: any) => (response.transaction.data.transaction.inputs ?? []).some((input: any) => input.objectId === normalize(filter.InputObject!))
              : undefined
            if (filter.InputObject !== undefined && options.refuseInputObject === true) {
              // the message of sui-indexer's JSON-RPC reader (MystenLabs/sui, crates/sui-indexer); the code is assumed
              return { error: { code: -32603, message: "InputObject and OutputObject filters are not supported, please use AffectedObject instead." } }
            }
            if (matches === undefined) {
              return { error: { code: -32602, message: "only FromAddress, ToAddress, ChangedObject, AffectedObject and InputObject filters are served" } }
            }
            const matching = ordered().filter(matches).map((response) => shown(response, query.options))
            return { result: paginate(descending === true ? matching.reverse() : matching, cursor, limit, (response) => response.digest) }
          }
          case "suix_queryEvents": {
            const [query, cursor, limit, descending] = params as [{ MoveEventType?: string }, { txDigest: string; eventSeq: string } | null, number | null, boolean | null]
            if (query.MoveEventType === undefined) return { error: { code: -32602, message: "only MoveEventType filters are served" } }
            const wanted = normalizeStructTag(query.MoveEventType)
            const matching = ordered().flatMap((response) => response.events).filter((event: any) => normalizeStructTag(event.type.replace(/<.*$/, "")) === wanted)
            const key = (event: any) => `${event.id.txDigest}:${event.id.eventSeq}`
            const page = paginate(descending === true ? matching.reverse() : matching, cursor === null || cursor === undefined ? null : `${cursor.txDigest}:${cursor.eventSeq}`, limit, key)
            return { result: options.endlessPages !== undefined ? page : { ...page, nextCursor: page.data.at(-1)?.id ?? cursor ?? null } }
          }
          case "sui_multiGetTransactionBlocks": {
            const [digests] = params as [Array<string>]
            if (digests.length > maxMultiGet) return { error: { code: -32602, message: `Number of digests ${digests.length} exceeds the maximum of ${maxMultiGet}` } }
            multiGetSizes.push(digests.length)
            multiGetDigests.push(...digests)
            // a digest the chain built no response for (the specification's checkpoint's own) reads as a transaction with no changes
            return {
              result: digests.map((digest) => shown(byDigest.get(digest) ?? { digest, checkpoint: String(firstCheckpoint), events: [], balanceChanges: [] }, params[1]))
            }
          }
          case "suix_getBalance": {
            const [owner, coinType] = params as [string, string | undefined]
            const type = coinType ?? "0x2::sui::SUI"
            if (normalize(owner) === normalize(spec.suix_getBalance_owner) && type === spec.suix_getBalance.coinType) {
              return { result: spec.suix_getBalance }
            }
            const amount = balances.get(balanceKey(owner, type)) ?? 0n
            return { result: { coinType: type, coinObjectCount: amount === 0n ? 0 : 1, totalBalance: amount.toString(), lockedBalance: {} } }
          }
          case "suix_getAllBalances": {
            const owner = normalize(String(params[0]))
            if (owner === normalize(spec.suix_getAllBalances_owner)) return { result: spec.suix_getAllBalances }
            const held = [...balances.entries()].filter(([key, amount]) => key.startsWith(`${owner}|`) && amount !== 0n)
            return {
              result: held.map(([key, amount]) => ({
                coinType: key.slice(owner.length + 1),
                coinObjectCount: 1,
                totalBalance: amount.toString(),
                lockedBalance: {}
              }))
            }
          }
          case "sui_getTransactionBlock": {
            const found = byDigest.get(params[0])
            const hidden = found !== undefined && options.indexAfterCheckpoint === true && executed.includes(params[0])
            return found === undefined || hidden
              ? { error: { code: -32602, message: `Could not find the referenced transaction [TransactionDigest(${params[0]})].` } }
              : { result: shown(found, params[1]) }
          }
          case "sui_executeTransactionBlock": {
            const [bytes, signatures] = params as [string, Array<string>]
            if (!Array.isArray(signatures) || signatures.length === 0) {
              return { error: { code: -32002, message: "Invalid user signature: the transaction carries no signature" } }
            }
            let digest: string
            try {
              digest = TransactionDataBuilder.getDigestFromBytes(fromBase64(bytes))
            } catch {
              return { error: { code: -32602, message: "Invalid params" } }
            }
            const outcome = outcomes.shift() ?? { _tag: "Accept" }
            if (outcome._tag === "Refuse") return { error: { code: outcome.code, message: outcome.message } }
            const known = byDigest.get(digest)
            // executing a known transaction again answers its effects (nodes are idempotent per digest)
            if (known !== undefined) return { result: known }
            const template = spec.sui_executeTransactionBlock
            const response = {
              ...template,
              digest,
              transaction: { ...template.transaction, txSignatures: signatures },
              effects: {
                ...template.effects,
                transactionDigest: digest,
                status: outcome._tag === "Accept" ? { status: "success" } : { status: "failure", error: outcome.error }
              }
            }
            byDigest.set(digest, response)
            executed.push(digest)
            return { result: response }
          }
          default:
            return { error: { code: -32601, message: `Method not found: ${method}` } }
        }
      }

      const server = Http.createServer((request, response) => {
        open++
        // closed when answered, or when the client gives the request up (its connection closed)
        response.on("close", () => open--)
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
          const calls: Array<any> = Array.isArray(body) ? body : [body]
          const apiKey = request.headers["x-api-key"] as string | undefined
          for (const call of calls) requests.push({ method: call.method, apiKey, params: call.params })
          const refusal = calls.map((call) => refusals.get(call.method)?.shift()).find((found) => found !== undefined)
          if (refusal !== undefined) {
            const answers = calls.map((call) => ({ jsonrpc: "2.0", id: call.id, error: refusal }))
            response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(Array.isArray(body) ? answers : answers[0]))
            return
          }
          if (untilOutage <= 0) {
            response.writeHead(503).end("Service Unavailable")
            return
          }
          untilOutage -= calls.length
          const fault = faults.shift()
          if (fault === "stall") return
          if (fault === "429") {
            response.writeHead(429, { "retry-after": "0" }).end()
            return
          }
          if (fault === "503") {
            response.writeHead(503).end("Service Unavailable")
            return
          }
          if (typeof fault === "object") {
            response.writeHead(200, { "content-type": "text/plain" }).end(fault.body)
            return
          }
          const answers = calls.map((call) => ({ jsonrpc: "2.0", id: call.id, ...answer(call.method, call.params ?? []) }))
          const text = JSON.stringify(Array.isArray(body) ? answers : answers[0])
          const sent = fault === "truncate" ? text.slice(0, Math.floor(text.length / 2)) : text
          response.writeHead(200, { "content-type": "application/json" }).end(sent)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        resume(Effect.succeed({ server, standIn: { ...standIn, url, addCheckpoint: standIn.addCheckpoint } }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ standIn }) => standIn))

/**
 * A network on the given endpoints, with retry and breaker limits short
 * enough for faults to be retried quickly. A request is given up after
 * `requestTimeout`: by default the production limit, since the stand-in
 * answers every request it is not told to stall, and this process (which
 * serves the stand-in too) can be held up for longer than a short limit on a
 * loaded machine: a scan of many pages then fails once its retries and the
 * breaker run out ("no answer within 300 ms"). Only a test that injects a
 * `stall` gives a limit of its own, which that request meets.
 */
export const network = (urls: ReadonlyArray<string>, name = "sui", requestTimeout: Duration.Input = ChainConfig.chainDefaults.requestTimeout) =>
  SuiClient.network({
    name,
    endpoints: urls.map((url) => ({ url, headers: { "x-api-key": "test-key" } })),
    requestTimeout,
    retry: { times: 6, base: "5 millis", max: "20 millis" },
    breaker: { failures: 3, openDuration: "50 millis" }
  })

const stores = Layer.mergeAll(RateLimiter.layer, CircuitBreaker.layerStoreMemory()).pipe(Layer.provideMerge(RateLimiter.layerStoreMemory))

/** A client of a network of any configuration (e.g. without retries), its stores in memory. */
export const clientOf = (config: SuiClient.SuiConfig) => SuiClient.make(config).pipe(Effect.provide(stores))

/** A client of one endpoint that does not retry: a fault's answer is the error the call fails with. */
export const clientWithoutRetries = (url: string) =>
  clientOf(SuiClient.network({ name: "sui", endpoints: [{ url }], retry: { times: 0 }, breaker: { failures: 100, openDuration: "1 second" } }))

/** A client of the network on the given stand-in endpoints (in order of preference), its stores in memory. */
export const client = (...urls: ReadonlyArray<string>) => clientWith(ChainConfig.chainDefaults.requestTimeout, ...urls)

/** `client` giving a request up after `requestTimeout` (a test of a stalled request sets how long the stall lasts). */
export const clientWith = (requestTimeout: Duration.Input, ...urls: ReadonlyArray<string>) =>
  clientOf(network(urls, "sui", requestTimeout))
