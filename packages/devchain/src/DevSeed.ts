/**
 * Known activity on a dev chain, for tests and benchmarks: ETH transfers
 * among dev accounts, an ERC-20 (`DevToken`) deployed from bytecode and
 * transfers of it, spread over a few hundred blocks by mining empty blocks
 * in between. `seed` returns every item it produced, so a test knows exactly
 * what a scan must find; `expectedFor` narrows it to a set of addresses.
 *
 * The activity is deterministic for given options. Two further accounts
 * trade ETH among themselves every round: activity a scan of the
 * participants must not report.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { Activity } from "@chainjobs/chain"
import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  decodeEventLog,
  defineChain,
  type Hash,
  http,
  type TransactionReceipt
} from "viem"
import { DevChain, DevChainError } from "./DevChain.ts"
import { devTokenAbi, devTokenBytecode } from "./internal/devToken.ts"

/** The ABI of the seeded ERC-20 (`Seeded.token`), for calls to it. */
export const tokenAbi = devTokenAbi

/** Options of `seed`. */
export interface SeedOptions {
  /** Rounds of activity; each sends one ETH transfer and one token transfer among the participants. Default: 60. */
  readonly rounds: number
  /** How many dev accounts take part, from account 0 (the token's deployer) on. Default: 6. */
  readonly participants: number
  /** At most this many empty blocks are mined after each round. Default: 4. */
  readonly maxGap: number
}

/** The defaults of `SeedOptions`. */
export const defaults: SeedOptions = { rounds: 60, participants: 6, maxGap: 4 }

/** What `seed` produced. */
export interface Seeded {
  /** The DevToken contract. */
  readonly token: Address
  /** The first block of the seeded activity. */
  readonly fromBlock: number
  /** The last block of the seeded activity (the head once seeding finished). */
  readonly toBlock: number
  /** The participating accounts (lowercase). */
  readonly participants: ReadonlyArray<Address>
  /** The two accounts that trade only with each other (lowercase). */
  readonly bystanders: ReadonlyArray<Address>
  /** Every item of activity, in chain order. */
  readonly activity: ReadonlyArray<Activity.Activity>
}

const seedError = (cause: unknown) => new DevChainError({ reason: "Seed", detail: String(cause) })

const activityOf = (receipt: TransactionReceipt, value: bigint): ReadonlyArray<Activity.Activity> => {
  const native = new Activity.Activity({
    kind: "native",
    blockNumber: Number(receipt.blockNumber),
    transactionHash: receipt.transactionHash,
    logIndex: null,
    from: receipt.from.toLowerCase(),
    to: receipt.to?.toLowerCase() ?? null,
    value: value.toString(),
    token: null
  })
  const transfers = receipt.logs.map((log) => {
    const { args } = decodeEventLog({ abi: devTokenAbi, eventName: "Transfer", data: log.data, topics: log.topics })
    return new Activity.Activity({
      kind: "erc20",
      blockNumber: Number(log.blockNumber),
      transactionHash: log.transactionHash,
      logIndex: log.logIndex,
      from: args.from.toLowerCase(),
      to: args.to.toLowerCase(),
      value: args.value.toString(),
      token: log.address.toLowerCase()
    })
  })
  return [native, ...transfers]
}

/** Produces known activity on the dev chain, starting at its current head. */
export const seed = Effect.fn("DevSeed.seed")(function*(options: Partial<SeedOptions> = {}) {
  const config = { ...defaults, ...options }
  const chain = yield* DevChain
  const definition = defineChain({
    id: chain.chainId,
    name: "dev",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [chain.url] } }
  })
  const transport = http(chain.url)
  const wallet = createWalletClient({ chain: definition, transport })
  const reader = createPublicClient({ chain: definition, transport })
  const miner = createTestClient({ chain: definition, transport, mode: "hardhat" })
  const call = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: seedError })
  const accounts = chain.accounts.map((account) => account.address.toLowerCase() as Address)
  const participants = accounts.slice(0, config.participants)
  const bystanders = accounts.slice(config.participants, config.participants + 2)
  const activity: Array<Activity.Activity> = []
  const record = Effect.fnUntraced(function*(hash: Hash, value: bigint) {
    const receipt = yield* call(() => reader.getTransactionReceipt({ hash }))
    if (receipt.status !== "success") return yield* seedError(`transaction ${hash} reverted`)
    activity.push(...activityOf(receipt, value))
    return receipt
  })
  const sendEth = (from: Address, to: Address, value: bigint) =>
    call(() => wallet.sendTransaction({ account: from, to, value })).pipe(Effect.flatMap((hash) => record(hash, value)))
  const sendToken = (token: Address, from: Address, to: Address, amount: bigint) =>
    call(() => wallet.writeContract({ account: from, address: token, abi: devTokenAbi, functionName: "transfer", args: [to, amount] }))
      .pipe(Effect.flatMap((hash) => record(hash, 0n)))

  const fromBlock = Number(yield* call(() => reader.getBlockNumber({ cacheTime: 0 }))) + 1
  const deployer = participants[0]!
  const deployment = yield* call(() =>
    wallet.deployContract({ account: deployer, abi: devTokenAbi, bytecode: devTokenBytecode, args: [10n ** 24n] })
  ).pipe(Effect.flatMap((hash) => record(hash, 0n)))
  const token = deployment.contractAddress!.toLowerCase() as Address
  for (const holder of participants.slice(1)) yield* sendToken(token, deployer, holder, 10n ** 21n)

  const n = participants.length
  for (let round = 0; round < config.rounds; round++) {
    const offset = 1 + (round % (n - 1))
    yield* sendEth(participants[round % n]!, participants[(round + offset) % n]!, BigInt(round + 1) * 10n ** 15n)
    yield* sendToken(token, participants[(round + 2) % n]!, participants[(round + 2 + offset) % n]!, BigInt(round + 1))
    yield* sendEth(bystanders[round % 2]!, bystanders[(round + 1) % 2]!, 1n)
    const gap = (round * 7) % (config.maxGap + 1)
    if (gap > 0) yield* call(() => miner.mine({ blocks: gap }))
  }
  const toBlock = Number(yield* call(() => reader.getBlockNumber({ cacheTime: 0 })))
  return {
    token,
    fromBlock,
    toBlock,
    participants,
    bystanders,
    activity: activity.sort(Activity.order)
  } satisfies Seeded
})

/** The seeded items that touch any of the addresses, in chain order. */
export const expectedFor = (seeded: Seeded, addresses: Iterable<string>): ReadonlyArray<Activity.Activity> => {
  const watched = new Set(Array.from(addresses, (address) => address.toLowerCase()))
  return seeded.activity.filter((item) => Activity.touches(item, watched))
}
