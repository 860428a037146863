/**
 * The in-memory front of the balance cache: the balances read last, by
 * (chain, account, asset), each with its pending sums, at most `maxEntries`
 * of them, the least recently read evicted first (a `Map` kept in read
 * order). `BalanceCache` owns one and writes every change it makes to its
 * tables through it, so a cached read costs a map lookup instead of a query.
 *
 * A read that misses takes the front's `version` before querying the table
 * and `fill`s with it; any change in between (a new amount, a stale mark, a
 * dropped entry) moves the version on, and the fill is skipped: the front
 * never keeps what the table no longer says.
 *
 * @since 0.1.0
 */

/** A balance as the front keeps it; amounts in the asset's smallest unit. */
export interface FrontEntry {
  readonly amount: bigint
  readonly checkedAt: number
  readonly stale: boolean
  readonly pendingIn: bigint
  readonly pendingOut: bigint
}

const keyOf = (chain: string, account: string, asset: string) => `${chain}\u0000${account}\u0000${asset}`
const ownerOf = (chain: string, account: string) => `${chain}\u0000${account}`

/** The bounded front; `maxEntries` 0 keeps nothing. */
export class BalanceFront {
  /** Moves on at every change; a fill taken before a change is dropped. */
  version = 0
  private readonly entries = new Map<string, FrontEntry>()
  /** The assets kept per (chain, account), to mark an account's balances stale. */
  private readonly assets = new Map<string, Set<string>>()

  /** The most balances kept. */
  readonly maxEntries: number

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries
  }

  /** How many balances are kept. */
  get size(): number {
    return this.entries.size
  }

  /** The kept balance, now the most recently read; `undefined` when not kept. */
  get(chain: string, account: string, asset: string): FrontEntry | undefined {
    const key = keyOf(chain, account, asset)
    const entry = this.entries.get(key)
    if (entry !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, entry)
    }
    return entry
  }

  /** Keeps a balance read from the table while the front was at `version`, evicting the least recently read beyond the bound. */
  fill(version: number, chain: string, account: string, asset: string, entry: FrontEntry): void {
    if (version !== this.version || this.maxEntries === 0) return
    const key = keyOf(chain, account, asset)
    this.entries.delete(key)
    this.entries.set(key, entry)
    const owner = ownerOf(chain, account)
    let assets = this.assets.get(owner)
    if (assets === undefined) this.assets.set(owner, assets = new Set())
    assets.add(asset)
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string
      this.evict(oldest)
    }
  }

  /** A new amount read from the chain at `checkedAt` (no longer stale); kept entries only, and never older than the one kept. */
  setAmount(chain: string, account: string, asset: string, amount: bigint, checkedAt: number): void {
    this.version++
    const key = keyOf(chain, account, asset)
    const entry = this.entries.get(key)
    if (entry !== undefined && entry.checkedAt <= checkedAt) {
      this.entries.set(key, { ...entry, amount, checkedAt, stale: false })
    }
  }

  /** Marks every kept balance of the accounts stale. */
  markStale(chain: string, accounts: ReadonlyArray<string>): void {
    this.version++
    for (const account of accounts) {
      const assets = this.assets.get(ownerOf(chain, account))
      if (assets === undefined) continue
      for (const asset of assets) {
        const key = keyOf(chain, account, asset)
        const entry = this.entries.get(key)
        if (entry !== undefined) this.entries.set(key, { ...entry, stale: true })
      }
    }
  }

  /** Forgets a balance (its pending amounts changed): the next read fills it from the table. */
  drop(chain: string, account: string, asset: string): void {
    this.version++
    this.evict(keyOf(chain, account, asset))
  }

  private evict(key: string): void {
    if (!this.entries.delete(key)) return
    const [chain, account, asset] = key.split("\u0000") as [string, string, string]
    const owner = ownerOf(chain, account)
    const assets = this.assets.get(owner)
    assets?.delete(asset)
    if (assets?.size === 0) this.assets.delete(owner)
  }
}
