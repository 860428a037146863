/**
 * A contract log decoded by the event signatures a caller gave: its event's
 * name and arguments (`uint`s and other big integers as decimal strings, so
 * that the value is JSON), where it is in the chain, and its raw topics and
 * data. A log that matches no given signature (or does not decode by it) is
 * kept with `name` null and `args` null. `position` orders logs in chain
 * order, and a `Cursor` names the last log of a page so that the next page
 * starts after it.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { type Abi, decodeEventLog, type Log } from "viem"

/** One decoded log. */
export const DecodedEvent = Schema.Struct({
  blockNumber: Schema.Int,
  /** The log's index in its block. */
  logIndex: Schema.Int,
  transactionHash: Schema.String,
  /** The contract that emitted it (lowercase). */
  address: Schema.String,
  /** The event's name, or null when no given signature decodes the log. */
  name: Schema.NullOr(Schema.String),
  /**
   * The arguments by name (by position when unnamed), as JSON: integers as decimal strings, addresses as lowercase
   * hex, bytes as hex; null when the log was not decoded.
   */
  args: Schema.NullOr(Schema.Unknown),
  topics: Schema.Array(Schema.String),
  data: Schema.String
})
/** @see DecodedEvent */
export type DecodedEvent = typeof DecodedEvent.Type

/** Where a log is in the chain: its block and its index there. A page's `nextCursor` is its last log's. */
export const Cursor = Schema.Struct({ blockNumber: Schema.Int, logIndex: Schema.Int })
/** @see Cursor */
export type Cursor = typeof Cursor.Type

/** Whether the log at `position` comes after `cursor` in chain order (everything does when there is no cursor). */
export const isAfter = (position: Cursor, cursor: Cursor | undefined): boolean =>
  cursor === undefined ||
  position.blockNumber > cursor.blockNumber ||
  (position.blockNumber === cursor.blockNumber && position.logIndex > cursor.logIndex)

const addressPattern = /^0x[0-9a-fA-F]{40}$/

/** A decoded value as JSON: big integers as decimal strings, addresses lowercase, arrays and records value by value. */
const toJson = (value: unknown): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (typeof value === "string" && addressPattern.test(value)) return value.toLowerCase()
  if (Array.isArray(value)) return value.map(toJson)
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, toJson(inner)]))
  }
  return value
}

/** Decodes a log by the events of `abi`; one that none of them decodes keeps its raw topics and data only. */
export const decode = (abi: Abi, log: Log): DecodedEvent => {
  const base = {
    blockNumber: Number(log.blockNumber),
    logIndex: Number(log.logIndex),
    transactionHash: log.transactionHash ?? "",
    address: log.address.toLowerCase(),
    topics: log.topics as ReadonlyArray<string>,
    data: log.data
  }
  try {
    const decoded = decodeEventLog({ abi, topics: log.topics as any, data: log.data })
    return { ...base, name: decoded.eventName ?? null, args: toJson(decoded.args ?? null) }
  } catch {
    return { ...base, name: null, args: null }
  }
}
