/**
 * Which of a runner's held shards are open: admitting new submissions.
 *
 * A shard this runner acquires stays closed until its unfinished records are
 * adopted (`TaskEntity.adoption`): the local supervisor holds every one of
 * them, and so their exclusive keys, before any new submission of the shard is
 * admitted, on either path (`Submit` through the task entity, or
 * `LocalAdmission`). Otherwise a key handed over with its task would be free
 * here for a moment, and a second task of it admitted beside the first.
 *
 * A shard closes again whenever its tasks may have left this runner's
 * supervisor: an entity or guard of it ended and handed tasks over (closed
 * before and after the hand-over), or the adoption found it no longer held.
 * Each close counts up the shard's epoch; an adoption opens a shard only if no
 * close came while it read and adopted its records. So a shard released and
 * acquired again between two looks of the adoption is adopted again, not
 * taken for one it still holds.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Latch, Option } from "effect"
import type { ShardId } from "effect/cluster"

/** How long a submission waits for its shard to open before it is refused as the store's unavailability is. */
export const openTimeout = Duration.seconds(10)

/** How often a submission waiting for its shard looks again whether this runner still holds it. */
const recheck = Duration.millis(250)

/** One shard's state here: open or not, its epoch (closes so far), and a latch open while it is. */
class Shard {
  open = false
  epoch = 0
  readonly opened = Latch.makeUnsafe(false)
}

/** A runner's open shards. */
export interface OpenShards {
  /** Whether `shard` admits new submissions here now. */
  isOpen(shard: ShardId.ShardId): boolean
  /**
   * Waits until `shard` is open here: true. False if this runner stops holding it first, or after `openTimeout`.
   * Asks the adoption to look now (`woken`).
   */
  whenOpen(shard: ShardId.ShardId): Effect.Effect<boolean>
  /** `shard`'s tasks may have left the supervisor: closes it until adopted again, and asks the adoption to look. */
  close(shard: ShardId.ShardId): void
  /** The epoch of `shard`: what `open` compares, once its records are adopted. */
  epoch(shard: ShardId.ShardId): number
  /** Opens `shard` if it is still held and not closed since `epoch`; says whether it did. */
  open(shard: ShardId.ShardId, epoch: number): boolean
  /** How many shards are open here. */
  readonly count: number
  /** Waits until something asks the adoption to look (a submission waiting, a close), or `interval` passed. */
  woken(interval: Duration.Input): Effect.Effect<void>
}

/** The open shards of a runner whose `held` says whether it holds a shard now (`Sharding.hasShardId`). */
export const make = (held: (shard: ShardId.ShardId) => boolean): OpenShards => {
  const shards = new Map<string, Shard>()
  const wake = Latch.makeUnsafe(false)
  let count = 0
  const stateOf = (shard: ShardId.ShardId) => {
    const key = shard.toString()
    let state = shards.get(key)
    if (state === undefined) shards.set(key, state = new Shard())
    return state
  }
  const isOpen = (shard: ShardId.ShardId) => shards.get(shard.toString())?.open === true
  const waitFor = (shard: ShardId.ShardId): Effect.Effect<boolean> =>
    Effect.suspend(() => {
      const state = stateOf(shard)
      if (state.open) return Effect.succeed(true)
      if (!held(shard)) return Effect.succeed(false)
      wake.openUnsafe()
      return Effect.andThen(Effect.timeoutOption(state.opened.await, recheck), waitFor(shard))
    })
  return {
    isOpen,
    whenOpen: (shard) =>
      // the usual case, open, without the timeout's fiber
      isOpen(shard)
        ? Effect.succeed(true)
        : waitFor(shard).pipe(Effect.timeoutOption(openTimeout), Effect.map(Option.getOrElse(() => false))),
    close: (shard) => {
      const state = stateOf(shard)
      state.epoch++
      if (state.open) {
        state.open = false
        count--
        state.opened.closeUnsafe()
      }
      wake.openUnsafe()
    },
    epoch: (shard) => stateOf(shard).epoch,
    open: (shard, epoch) => {
      const state = stateOf(shard)
      if (state.open || state.epoch !== epoch || !held(shard)) return false
      state.open = true
      count++
      state.opened.openUnsafe()
      return true
    },
    get count() {
      return count
    },
    woken: (interval) =>
      Effect.andThen(Effect.timeoutOption(wake.await, interval), Effect.sync(() => void wake.closeUnsafe()))
  }
}
