/**
 * What an address scan finds: a transaction sent from or to a watched
 * address (`native`, whatever its value), or an ERC-20 `Transfer` log whose
 * sender or recipient is watched (`erc20`). Every item has a stable `key`, so
 * sets of activity compare and deduplicate exactly.
 *
 * @since 0.1.0
 */
import { Order, Schema } from "effect"

/** One item of address activity. Addresses are lowercase; `value` is a decimal string of wei or token units. */
export class Activity extends Schema.Class<Activity>("@chainjobs/chain/Activity")({
  kind: Schema.Literals(["native", "erc20"]),
  blockNumber: Schema.Int,
  transactionHash: Schema.String,
  /** The log's index in its block (`erc20`); null for `native`. */
  logIndex: Schema.NullOr(Schema.Int),
  from: Schema.String,
  /** The recipient; null for a contract creation. */
  to: Schema.NullOr(Schema.String),
  value: Schema.String,
  /** The token contract (`erc20`); null for `native`. */
  token: Schema.NullOr(Schema.String)
}) {}

/** A key unique to one item: the transaction hash, plus the log index for a log. */
export const key = (activity: Activity): string =>
  activity.logIndex === null ? activity.transactionHash : `${activity.transactionHash}:${activity.logIndex}`

/** Chain order: by block, native transactions before logs, then by log index. */
export const order: Order.Order<Activity> = Order.mapInput(
  Order.Tuple([Order.Number, Order.Number, Order.String]),
  (activity: Activity) => [activity.blockNumber, activity.logIndex ?? -1, activity.transactionHash] as const
)

/** Whether the item touches one of the (lowercase) addresses. */
export const touches = (activity: Activity, addresses: ReadonlySet<string>): boolean =>
  addresses.has(activity.from) || (activity.to !== null && addresses.has(activity.to))

/**
 * The items touching each address, in chain order: every address given (lowercase) is a key, an address without
 * activity has none; an item between two of them is under both.
 */
export const byAddress = (
  activity: ReadonlyArray<Activity>,
  addresses: ReadonlyArray<string>
): Record<string, ReadonlyArray<Activity>> => {
  const groups: Record<string, Array<Activity>> = {}
  for (const address of addresses) groups[address.toLowerCase()] = []
  for (const item of activity) {
    groups[item.from]?.push(item)
    if (item.to !== null && item.to !== item.from) groups[item.to]?.push(item)
  }
  return groups
}
