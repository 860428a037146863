/**
 * Where processed blocks go (each is recorded, then published): the
 * feed records each chain's latest validated block, and publishes every
 * recorded block to its subscribers. `ProcessBlock` (in `ChainTasks`) checks
 * an incoming block against the recorded one before recording it.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, PubSub, type Scope, Stream } from "effect"
import type { ValidatedBlock } from "./BlockValidation.ts"

/** A block recorded on a chain. */
export interface FeedItem {
  readonly chain: string
  readonly block: ValidatedBlock
}

/** The feed of processed blocks. */
export class BlockFeed extends Context.Service<BlockFeed, {
  /** Records the block as its chain's latest and publishes it. */
  record(chain: string, block: ValidatedBlock): Effect.Effect<void>
  /** The chain's latest recorded block. */
  latest(chain: string): Effect.Effect<Option.Option<ValidatedBlock>>
  /** Subscribes: the stream has every block recorded, on every chain, from now until the scope closes. */
  readonly subscribe: Effect.Effect<Stream.Stream<FeedItem>, never, Scope.Scope>
}>()("@chainjobs/chain/BlockFeed") {}

/** A feed kept in memory. */
export const makeMemory = Effect.gen(function*() {
  const latest = new Map<string, ValidatedBlock>()
  const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<FeedItem>(), PubSub.shutdown)
  return BlockFeed.of({
    record: (chain, block) =>
      Effect.suspend(() => {
        latest.set(chain, block)
        return PubSub.publish(pubsub, { chain, block })
      }),
    latest: (chain) => Effect.sync(() => Option.fromNullishOr(latest.get(chain))),
    subscribe: Effect.map(PubSub.subscribe(pubsub), Stream.fromSubscription)
  })
})

/** A feed kept in memory. */
export const layerMemory: Layer.Layer<BlockFeed> = Layer.effect(BlockFeed, makeMemory)
