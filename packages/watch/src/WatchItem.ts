/**
 * What a watcher detects: one item of chain activity — a native transfer, a
 * token transfer, a decoded contract event, or a change of a watched object
 * (Sui) — with an identity that is the
 * item itself (chain, transaction, position in it), so that detecting it again
 * (after a crash, a restart or a reorg that re-included it) names the same
 * item. The item is the payload of the task that processes it.
 *
 * The shape is chain-neutral: `block` is a block number or a checkpoint
 * sequence number, `position` a log index or an event sequence within the
 * transaction, `null` for the transaction itself.
 *
 * @since 0.1.0
 */
import { Order, Schema } from "effect"

/** What kind of activity an item is: a transfer of the native asset or of a token, a contract event, or a change of a watched object (Sui). */
export const ItemKind = Schema.Literals(["native", "token", "event", "object"])
/** @see ItemKind */
export type ItemKind = typeof ItemKind.Type

/** One detected item. Addresses are as the chain family writes them (lowercase hex on EVM); amounts are decimal strings. */
export class WatchItem extends Schema.Class<WatchItem>("@chainjobs/watch/WatchItem")({
  /** The watcher that detected it. */
  watcher: Schema.String,
  chain: Schema.String,
  kind: ItemKind,
  /** Block number (EVM) or checkpoint (Sui). */
  block: Schema.Int,
  /** The hash of that block as read when the item was detected. */
  blockHash: Schema.String,
  transaction: Schema.String,
  /** Log index (EVM), or event sequence, balance change or object change after the events (Sui); null for the transaction itself (a native transfer). */
  position: Schema.NullOr(Schema.Int),
  from: Schema.NullOr(Schema.String),
  to: Schema.NullOr(Schema.String),
  /** Amount moved, for native and token items; null for other events. */
  amount: Schema.NullOr(Schema.String),
  /** The token contract or coin type; an object's Move type for an object change; null for the chain's native asset and for events. */
  asset: Schema.NullOr(Schema.String),
  /** The emitting contract of an event; the object id of an object change; null otherwise. */
  contract: Schema.NullOr(Schema.String),
  /** The decoded event's name; for an object change, what changed it (`created`, `mutated`, `transferred`, `deleted`, `wrapped`); null otherwise. */
  event: Schema.NullOr(Schema.String),
  /** The decoded event's arguments, as JSON-safe values (integers as decimal strings); an object change's version, digest and owner. */
  args: Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown))
}) {}

/** The identity of an item on its chain: chain, transaction and position (`chain:tx` for a transaction, `chain:tx:n` for a log). */
export const id = (item: Pick<WatchItem, "chain" | "transaction" | "position">): string =>
  item.position === null ? `${item.chain}:${item.transaction}` : `${item.chain}:${item.transaction}:${item.position}`

/** The key of the task processing an item for a watcher: two watchers each process an item they both see. */
export const taskKey = (item: Pick<WatchItem, "watcher" | "chain" | "transaction" | "position">): string =>
  `${item.watcher}/${id(item)}`

/** Chain order: by block, transactions before logs, then by position. */
export const order: Order.Order<WatchItem> = Order.mapInput(
  Order.Tuple([Order.Number, Order.Number, Order.String]),
  (item: WatchItem) => [item.block, item.position ?? -1, item.transaction] as const
)

/** The accounts an item moves value from or to (those whose balances it changes). */
export const accounts = (item: WatchItem): ReadonlyArray<string> =>
  item.kind === "event" || item.kind === "object" ? [] : [item.from, item.to].filter((account): account is string => account !== null)
