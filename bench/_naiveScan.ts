/**
 * The naive scan both chain benches compare against: one block read (with its
 * transactions) and one Transfer log query per block, sequentially, matched in
 * process against the watched addresses — what a plain viem loop does.
 */
import { createPublicClient, http, parseAbiItem, type Transaction } from "viem"

/** The ERC-20 Transfer event the seeded token emits. */
export const transfer = parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)")

/** Scans `fromBlock..toBlock` block by block; returns tx hashes and `txHash:logIndex` of token transfers touching `addresses`. */
export const naiveScan = async (url: string, addresses: ReadonlyArray<string>, fromBlock: number, toBlock: number) => {
  const client = createPublicClient({ transport: http(url) })
  const watched = new Set(addresses)
  const found: Array<string> = []
  for (let number = fromBlock; number <= toBlock; number++) {
    const block = await client.getBlock({ blockNumber: BigInt(number), includeTransactions: true })
    for (const tx of block.transactions as ReadonlyArray<Transaction>) {
      if (watched.has(tx.from.toLowerCase()) || (tx.to !== null && watched.has(tx.to.toLowerCase()))) found.push(tx.hash)
    }
    const logs = await client.getLogs({ event: transfer, fromBlock: BigInt(number), toBlock: BigInt(number) })
    for (const log of logs) {
      if (watched.has(log.args.from!.toLowerCase()) || watched.has(log.args.to!.toLowerCase())) {
        found.push(`${log.transactionHash}:${log.logIndex}`)
      }
    }
  }
  return found
}
