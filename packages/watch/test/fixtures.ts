/**
 * Shared test setup: a real Hardhat dev chain, the watch runtime on real SQLite
 * files (task store and watch tables), a processor kind that logs each run in
 * the watch database inside its item's transaction, and viem clients that act
 * on the node (send, mine, snapshot, revert, set balances).
 */
import { ChainConfig, Chains } from "@chainjobs/chain"
import { DevChain } from "@chainjobs/devchain"
import { NodeSqliteClient, SqlTaskStore } from "@chainjobs/store-sql"
import { Tasks } from "@chainjobs/tasks"
import { PgClient } from "@effect/sql-pg"
import { describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, Random, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  type Hash,
  type Hex,
  http
} from "viem"
import { privateKeyToAccount } from "viem/accounts"
import * as BalanceCache from "../src/BalanceCache.ts"
import * as BalanceUpkeep from "../src/BalanceUpkeep.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import * as Watchers from "../src/Watchers.ts"
import * as WatchItem from "../src/WatchItem.ts"
import * as WatchProcessor from "../src/WatchProcessor.ts"
import type * as WatchStore from "../src/WatchStore.ts"

export { DevChain }

/** A fresh directory, removed with everything in it when the scope closes. */
export const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "chainjobs-watch-"))),
  (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
)

/** The dev chain as the chain `dev`, with a head cache short enough to follow a node mining on demand. */
export const devChainConfig = (url: string) =>
  ChainConfig.chain({
    name: "dev",
    chainId: DevChain.chainId,
    endpoints: [{ url }],
    requestTimeout: "2 seconds",
    headTtl: "1 millis",
    retry: { base: "5 millis", max: "50 millis", times: 10 },
    breaker: { failures: 5, openDuration: "100 millis" }
  })

/** The table where the test processor logs each run (no unique key: a second run of an item shows as a second row). */
export const processedLog = "test_processed_log"

/** The test processor: logs the item in the watch database, in the item's transaction. */
export const Record = WatchProcessor.define("test.record", { success: WatchItem.WatchItem })

/** The test processor's handler; `jitterMillis` sleeps up to that long inside the transaction (to widen crash windows). */
export const recordLayer = (jitterMillis = 0) =>
  WatchProcessor.implement(Record, (item) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO ${sql(processedLog)} ${sql.insert({ watcher: item.watcher, item_id: WatchItem.id(item) })}`
      if (jitterMillis > 0) yield* Effect.sleep(yield* Random.nextIntBetween(0, jitterMillis))
      return item
    }).pipe(Effect.orDie))

/** The error of the refusing processor. */
export class Refused extends Schema.TaggedError<Refused>("test/Refused")("Refused", { item: Schema.String }) {
  override get message() {
    return `refused ${this.item}`
  }
}

/** A processor that refuses every item: its failures are the items' outcomes. */
export const Refuse = WatchProcessor.define("test.refuse", { error: Refused })

const refuseLayer = WatchProcessor.implement(Refuse, (item) => Effect.fail(new Refused({ item: WatchItem.id(item) })))

const createLog = Layer.effectDiscard(Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${processedLog} (watcher text NOT NULL, item_id text NOT NULL)`)
}).pipe(Effect.orDie))

/** The test database's URL, if one is configured (`CHAINJOBS_TEST_PG_URL`): the PostgreSQL variants skip without it. */
export const pgTestUrl = process.env.CHAINJOBS_TEST_PG_URL

let schemas = 0

/** The watch tables on the PostgreSQL test database, in a fresh schema dropped when the layer is released. */
export const pgWatchTables: Layer.Layer<SqlClient.SqlClient> = Layer.unwrap(Effect.gen(function*() {
  const schema = `watch_test_${process.pid}_${++schemas}`
  const admin = PgClient.layer({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: 1 })
  const run = (statement: string) =>
    Effect.flatMap(Effect.service(SqlClient.SqlClient), (sql) => sql.unsafe(statement)).pipe(
      Effect.provide(admin, { local: true }),
      Effect.orDie
    )
  yield* Effect.acquireRelease(run(`CREATE SCHEMA "${schema}"`), () => run(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
  return PgClient.layer({
    url: Redacted.make(pgTestUrl ?? ""),
    maxConnections: 4,
    startupParameters: { search_path: `"${schema}"` }
  })
})).pipe(Layer.orDie)

/** The runtime of a watching process: supervisor on `directory/tasks.db`, watch tables on `directory/watch.db` (or the given database). */
export const runtime = (directory: string, url: string, options: {
  readonly watchers?: Partial<Watchers.WatchersConfig>
  readonly jitterMillis?: number
  readonly watchTables?: Layer.Layer<SqlClient.SqlClient> | undefined
  /** WebSocket endpoints by chain name, to subscribe to new heads on. */
  readonly webSockets?: Readonly<Record<string, string>> | undefined
  /** The chain id configured for `dev` (the node's own by default). */
  readonly chainId?: number | undefined
} = {}) => {
  const sqlite = options.watchTables ?? NodeSqliteClient.layer({ filename: join(directory, "watch.db"), synchronous: "FULL" })
  const chains = Chains.layerMemory([{ ...devChainConfig(url), chainId: options.chainId ?? DevChain.chainId }])
  const adapters = EvmAdapter.layerWith({ webSockets: options.webSockets }).pipe(Layer.provide(chains))
  const supervisor = Tasks.layer({ shutdownGracePeriod: "1 second" }).pipe(
    Layer.provide(SqlTaskStore.layerSqlite({ filename: join(directory, "tasks.db") }))
  )
  const balances = BalanceCache.layer()
  const watchers = Watchers.layer({ pollInterval: "50 millis", ...options.watchers })
  return Layer.mergeAll(recordLayer(options.jitterMillis), refuseLayer, BalanceUpkeep.layer).pipe(
    Layer.provideMerge(watchers),
    Layer.provideMerge(balances),
    Layer.provideMerge(Layer.mergeAll(adapters, supervisor, chains)),
    Layer.provideMerge(createLog),
    Layer.provideMerge(sqlite),
    Layer.orDie
  )
}

/** Each logged run of the test processor: item id → how many times it ran. */
export const processedCounts = (watcher: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ readonly item_id: string }>`SELECT item_id FROM ${sql(processedLog)} WHERE watcher = ${watcher}`
    const counts = new Map<string, number>()
    for (const row of rows) counts.set(row.item_id, (counts.get(row.item_id) ?? 0) + 1)
    return counts
  }).pipe(Effect.orDie)

/** Acting on the node: transfers signed locally (so a reverted one can be sent again as it was), mining, snapshots, balances. */
export const node = (url: string) => {
  const chain = defineChain({
    id: DevChain.chainId,
    name: "dev",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [url] } }
  })
  const transport = http(url)
  const reader = createPublicClient({ chain, transport })
  const tester = createTestClient({ chain, transport, mode: "hardhat" })
  const call = <A>(f: () => Promise<A>) => Effect.promise(f)
  const unchecked = (from: number, request: { readonly to: Address; readonly value?: bigint; readonly data?: Hex }) =>
    call(() => createWalletClient({ chain, transport }).sendTransaction({ account: DevChain.accounts[from]!.address, chain, gas: 200_000n, ...request }))
  return {
    head: call(() => reader.getBlockNumber({ cacheTime: 0 })).pipe(Effect.map(Number)),
    /** Signs a transfer of `value` wei from dev account `from` (index) to `to`; returns the raw transaction. */
    sign: (from: number, to: Address, value: bigint) =>
      Effect.gen(function*() {
        const account = privateKeyToAccount(DevChain.accounts[from]!.privateKey)
        const nonce = yield* call(() => reader.getTransactionCount({ address: account.address, blockTag: "pending" }))
        const wallet = createWalletClient({ chain, transport, account })
        const request = yield* call(() => wallet.prepareTransactionRequest({ to, value, nonce, chain }))
        return yield* call(() => wallet.signTransaction(request as never))
      }),
    sendRaw: (raw: Hex) => call(() => reader.sendRawTransaction({ serializedTransaction: raw })),
    /** Sends `value` wei from dev account `from` to `to` and waits for it to be mined. */
    send: (from: number, to: Address, value: bigint): Effect.Effect<Hash> =>
      Effect.gen(function*() {
        const wallet = createWalletClient({ chain, transport })
        const hash = yield* call(() => wallet.sendTransaction({ account: DevChain.accounts[from]!.address, to, value, chain }))
        yield* call(() => reader.waitForTransactionReceipt({ hash, pollingInterval: 20 }))
        return hash
      }),
    /** A transaction sent by an unlocked dev account with its gas given, so a reverting one is sent too (estimation would refuse it). */
    sendUnchecked: unchecked,
    /**
     * Sends ether to `contract` (which has no payable function) from dev account `from`: the transaction reverts,
     * and is mined all the same — sent to the pool with automining off (a node automining refuses a reverting
     * transaction at once), `whilePending` run, then mined. Returns its hash.
     */
    sendReverting: <E, R>(from: number, contract: Address, whilePending: (hash: Hash) => Effect.Effect<void, E, R> = () => Effect.void) =>
      Effect.gen(function*() {
        yield* call(() => tester.setAutomine(false))
        const hash = yield* unchecked(from, { to: contract, value: 1n })
        yield* whilePending(hash)
        yield* call(() => tester.mine({ blocks: 1 }))
        yield* call(() => tester.setAutomine(true))
        return hash
      }),
    mine: (blocks: number) => call(() => tester.mine({ blocks })),
    snapshot: call(() => tester.snapshot()),
    revert: (id: Hex) => call(() => tester.revert({ id })),
    setBalance: (address: Address, value: bigint) => call(() => tester.setBalance({ address, value })),
    /** Replaces the code at an address (`0x`: no contract there any more). */
    setCode: (address: Address, bytecode: Hex) => call(() => tester.setCode({ address, bytecode })),
    setAutomine: (enabled: boolean) => call(() => tester.setAutomine(enabled)),
    balance: (address: Address) => call(() => reader.getBalance({ address }))
  }
}

/** A dev account's address, lowercase. */
export const address = (index: number) => DevChain.accounts[index]!.address.toLowerCase() as Address

/** A logger for `Logger.layer`'s place: the text of every warning logged where `layer` is provided, in order, in `warnings`. */
export const warningLog = () => {
  const warnings: Array<string> = []
  const layer = Logger.layer([Logger.make<unknown, void>(({ logLevel, message }) => {
    if (logLevel === "Warn") warnings.push(String(Array.isArray(message) ? message[0] : message))
  })])
  return { layer, warnings }
}

/**
 * Polls `check` every 25 ms until it holds; past `withinMillis` (default 30 s) fails saying it never did, naming
 * `what`. A loop a bug stopped then fails the test with that message instead of holding it to vitest's bound.
 */
export const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, what = "the condition waited for", withinMillis = 30_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + withinMillis
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`never happened in ${withinMillis} ms: ${what}`))
      yield* Effect.sleep("25 millis")
    }
  })

/**
 * Adds a paused watcher `name` of dev account `watched` for `processor`, sends it 1 wei from dev account `from` and
 * polls once: answers the transfer's hash and the processor's tasks (a first page of 10).
 */
export const pollTransfer = (name: string, processor: string, from: number, watched: Address) =>
  Effect.gen(function*() {
    const act = node((yield* DevChain.DevChain).url)
    const watchers = yield* Watchers.Watchers
    yield* watchers.add({ name, chain: "dev", processor, accounts: [watched], confirmations: 0, paused: true })
    const hash = yield* act.sendRaw(yield* act.sign(from, watched, 1n))
    yield* watchers.poll(name)
    const page = yield* Effect.flatMap(Effect.service(Tasks.Tasks), (tasks) => tasks.list({ kind: [processor], limit: 10 }))
    return { hash, tasks: page.items }
  })

/** A dev chain and a watch runtime on it in a fresh directory, shared by the tests of a file. */
export const sharedRuntime = (options: Parameters<typeof runtime>[2] = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const chain = yield* DevChain.DevChain
    const directory = yield* tempDirectory
    return runtime(directory, chain.url, options)
  })).pipe(Layer.provideMerge(DevChain.layer()))

/** An address of no dev account: `0x` and the number in 40 hex digits. */
export const numbered = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as Address

/** The reason and message of a failure's `WatchError`, or what the exit was instead. */
export const reasonOf = <A, E extends { readonly reason: { readonly _tag: string }; readonly message: string }>(exit: Exit.Exit<A, E>) => {
  const error = Exit.findErrorOption(exit)
  return error._tag === "Some" ? [error.value.reason._tag, error.value.message] as const : ["not a failure", String(exit)] as const
}

/** A scenario over the watch tables alone, run on a SQLite file and (with `CHAINJOBS_TEST_PG_URL`) on PostgreSQL. */
export const onEachEngine = <E>(title: string, scenario: Effect.Effect<void, E, SqlClient.SqlClient>) =>
  describe(title, () => {
    it.live("on SQLite", () =>
      Effect.gen(function*() {
        const directory = yield* tempDirectory
        const sqlite = NodeSqliteClient.layer({ filename: join(directory, "watch.db") }).pipe(Layer.orDie)
        yield* scenario.pipe(Effect.provide(sqlite, { local: true }))
      }).pipe(Effect.scoped))

    it.live.skipIf(pgTestUrl === undefined)("on PostgreSQL", () =>
      scenario.pipe(Effect.provide(pgWatchTables, { local: true }), Effect.scoped))
  })

/** A watcher's stored row as the store tests write it: started at block 10 (its cursor at 9), confirmed at depth 0. */
export const watcherRow = (name: string, chain: string): WatchStore.WatcherRow => ({
  name,
  chain,
  processor: "test.record",
  confirmations: 0,
  startBlock: 10,
  status: "active",
  contracts: [],
  objects: [],
  confirmedBlock: 9,
  confirmedHash: null,
  createdAt: 0
})

/** A native transfer of 1 wei on the dev chain seen by watcher `w` in block 1 (a made-up block hash). */
export const nativeTransfer = (transaction: string, from: string, to: string) =>
  new WatchItem.WatchItem({
    watcher: "w",
    chain: "dev",
    kind: "native",
    block: 1,
    blockHash: `0x${"1".repeat(64)}`,
    transaction,
    position: null,
    from,
    to,
    amount: "1",
    asset: null,
    contract: null,
    event: null,
    args: null
  })
