/**
 * The one error of the watch package: `WatchError`, whose `reason` says what
 * went wrong — an unknown watcher, a definition or change that is refused
 * (nothing was changed), a reorganization deeper than a watcher's confirmation
 * depth, or a failure of the chain or of the database beneath.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** No watcher of that name exists. */
export class UnknownWatcher extends Schema.TaggedClass<UnknownWatcher>()("UnknownWatcher", {
  watcher: Schema.String
}) {}

/** A watcher definition or change was refused; nothing was changed. */
export class Invalid extends Schema.TaggedClass<Invalid>()("Invalid", {
  watcher: Schema.String,
  detail: Schema.String
}) {}

/**
 * A block at confirmation depth does not extend the block the watcher
 * confirmed last: the chain reorganized deeper than the confirmation depth.
 * The watcher stops advancing; items already processed stay processed.
 */
export class DeepReorg extends Schema.TaggedClass<DeepReorg>()("DeepReorg", {
  watcher: Schema.String,
  block: Schema.Int,
  expectedParent: Schema.String,
  foundParent: Schema.String
}) {}

/** Reading the chain failed (after the client's own retries). */
export class ChainFailed extends Schema.TaggedClass<ChainFailed>()("ChainFailed", {
  chain: Schema.String,
  detail: Schema.String
}) {}

/** Reading or writing the watch tables failed. */
export class StoreFailed extends Schema.TaggedClass<StoreFailed>()("StoreFailed", {
  operation: Schema.String,
  detail: Schema.String
}) {}

/** Why a watch operation failed. */
export const WatchErrorReason = Schema.Union([UnknownWatcher, Invalid, DeepReorg, ChainFailed, StoreFailed])
/** @see WatchErrorReason */
export type WatchErrorReason = typeof WatchErrorReason.Type

const describe = (reason: WatchErrorReason): string => {
  switch (reason._tag) {
    case "UnknownWatcher":
      return `no watcher named "${reason.watcher}"`
    case "Invalid":
      return `watcher "${reason.watcher}": ${reason.detail}`
    case "DeepReorg":
      return `watcher "${reason.watcher}": block ${reason.block} has parent ${reason.foundParent}, ` +
        `not the confirmed ${reason.expectedParent}: a reorganization deeper than the confirmation depth`
    case "ChainFailed":
      return `chain ${reason.chain}: ${reason.detail}`
    case "StoreFailed":
      return `watch store ${reason.operation}: ${reason.detail}`
  }
}

/** A watch operation failed. */
export class WatchError extends Schema.TaggedError<WatchError>("@chainjobs/watch/WatchError")("WatchError", {
  reason: WatchErrorReason
}) {
  override get message(): string {
    return describe(this.reason)
  }
}

/** Maps a database failure of `operation` to a `WatchError`. */
export const storeFailed = (operation: string) => (cause: { readonly message: string }): WatchError =>
  new WatchError({ reason: new StoreFailed({ operation, detail: cause.message }) })

/** Maps a chain failure to a `WatchError`. */
export const chainFailed = (chain: string) => (cause: { readonly message: string }): WatchError =>
  new WatchError({ reason: new ChainFailed({ chain, detail: cause.message }) })
